-- Argo CD health check for every kind of kollacfg.dev (KollaConfig and the seven fragment
-- kinds: they report the same condition types, see deploy/argocd/README.md). This file,
-- deploy/argocd/health/health.lua, is the one source: the entries of
-- deploy/argocd/argocd-cm.yaml are copies of it, written by
-- `KOLLACFG_BLESS=1 cargo test -p kollacfg-api --test argocd` (which fails while they differ).
--
--   Degraded     a failure condition is True for the current generation: Invalid (the engine
--                refused a fragment's values), Conflicted (a fragment sets an item that another
--                one sets to a different value at the same precedence) or Degraded (a
--                KollaConfig's output was not rendered or not written) — or a condition that
--                must hold is False for it: BrokerSynced (a KollaConfig's live broker could not
--                be synced) or Live (a RabbitPolicy's policy is not live in the broker). The
--                message is the condition's own.
--   Progressing  no status yet or a status for an older generation (whatever it says), or
--                Ready False or Unknown without a failure (e.g. a fragment waiting for its
--                KollaConfig).
--
-- Once Ready is True, a KollaConfig with spec.rollout also has RolledOut (are the workloads
-- running the current output?). When it is False for the current generation, its reason
-- decides (the message is the condition's own):
--
--   Degraded     RolloutStuck (a pod of the new revision failing, or no progress within
--                spec.rolloutPolicy.progressDeadlineSeconds) or WorkloadNotFound.
--   Progressing  Progressing: pods are being replaced.
--   Suspended    Paused: spec.rolloutPolicy.paused holds the workloads on an older output.
--   Healthy      RolledBack: a workload was taken back by hand (kubectl rollout undo) and
--                runs an older output by choice until the next change; nothing waits on a
--                person. RolledBack outranks Paused and Progressing in the condition, so the
--                other workloads' states in status.rollout are looked at first: one still
--                Progressing gives Progressing, one Paused gives Suspended.
--
--   Healthy      otherwise: Ready is True (RolledOut True, absent, or False for a reason not
--                listed here), with Ready's message.
--
-- "Current generation": status.observedGeneration equals metadata.generation, and a condition
-- that carries its own observedGeneration carries that one too.
--
-- A field of an unexpected type counts as absent. So does a null: Argo CD passes it as nil,
-- some YAML loaders as a placeholder table, which has no fields and reads as empty here.

local function text(value)
  if type(value) == "string" and value ~= "" then
    return value
  end
  return nil
end

local function number(value)
  if type(value) == "number" then
    return value
  end
  return nil
end

local function map(value)
  if type(value) == "table" then
    return value
  end
  return nil
end

local hs = {}
local metadata = map(obj.metadata) or {}
local status = map(obj.status) or {}
local generation = number(metadata.generation)
local observed = number(status.observedGeneration)
local list = map(status.conditions)
if list ~= nil and list[1] == nil then
  list = nil
end

if observed == nil and list == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the kollacfg controller to report status"
  return hs
end

if generation ~= nil and observed ~= generation then
  hs.status = "Progressing"
  if observed == nil then
    hs.message = "Waiting for the kollacfg controller to process generation "
      .. tostring(generation)
  else
    hs.message = "Waiting for the kollacfg controller: status is for generation "
      .. tostring(observed) .. ", the spec is at generation " .. tostring(generation)
  end
  return hs
end

local conditions = {}
for _, item in ipairs(list or {}) do
  local condition = map(item)
  if condition ~= nil and text(condition.type) ~= nil then
    local at = number(condition.observedGeneration)
    if generation == nil or at == nil or at == generation then
      conditions[condition.type] = condition
    end
  end
end

local function holds(kind)
  local condition = conditions[kind]
  return condition ~= nil and condition.status == "True"
end

local function message(kind)
  local condition = conditions[kind]
  if condition == nil then
    return nil
  end
  return text(condition.message) or text(condition.reason)
    or (kind .. " is " .. tostring(condition.status))
end

for _, failure in ipairs({ "Invalid", "Degraded", "Conflicted" }) do
  if holds(failure) then
    hs.status = "Degraded"
    hs.message = message(failure)
    return hs
  end
end

for _, expected in ipairs({ "BrokerSynced", "Live" }) do
  local condition = conditions[expected]
  if condition ~= nil and condition.status == "False" then
    hs.status = "Degraded"
    hs.message = message(expected)
    return hs
  end
end

if not holds("Ready") then
  hs.status = "Progressing"
  hs.message = message("Ready") or "Waiting for the Ready condition"
  return hs
end

-- The rollout records of status.rollout in `state`, as "Kind/name ..." (with `describe`).
local function records(state, describe)
  local found = {}
  for _, item in ipairs(map(status.rollout) or {}) do
    local record = map(item)
    if record ~= nil and record.state == state then
      local id = tostring(text(record.kind)) .. "/" .. tostring(text(record.name))
      table.insert(found, id .. describe(record))
    end
  end
  return found
end

local rolled = conditions["RolledOut"]
if rolled ~= nil and rolled.status == "False" then
  local reason = text(rolled.reason)
  if reason == "RolloutStuck" or reason == "WorkloadNotFound" then
    hs.status = "Degraded"
    hs.message = message("RolledOut")
    return hs
  end
  if reason == "Progressing" then
    hs.status = "Progressing"
    hs.message = message("RolledOut")
    return hs
  end
  if reason == "Paused" then
    hs.status = "Suspended"
    hs.message = message("RolledOut")
    return hs
  end
  if reason == "RolledBack" then
    local moving = records("Progressing", function(record)
      return " " .. tostring(number(record.updatedReplicas) or 0) .. " of "
        .. tostring(number(record.desiredReplicas) or 0) .. " updated, "
        .. tostring(number(record.readyReplicas) or 0) .. " ready"
    end)
    if moving[1] ~= nil then
      hs.status = "Progressing"
      hs.message = "rolling out: " .. table.concat(moving, "; ") .. "; " .. message("RolledOut")
      return hs
    end
    local held = records("Paused", function(record)
      local why = text(record.message)
      if why == nil then
        return ""
      end
      return ": " .. why
    end)
    if held[1] ~= nil then
      hs.status = "Suspended"
      hs.message = table.concat(held, "; ") .. "; " .. message("RolledOut")
      return hs
    end
    hs.status = "Healthy"
    hs.message = message("RolledOut")
    return hs
  end
end

hs.status = "Healthy"
hs.message = message("Ready")
return hs
