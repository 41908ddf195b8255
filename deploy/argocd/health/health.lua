-- Argo CD health check for every kind of kollacfg.dev (KollaConfig and the seven fragment
-- kinds: they report the same condition types, see deploy/argocd/README.md). This file,
-- deploy/argocd/health/health.lua, is the one source: kollacfg.dev/<Kind>/health.lua and the
-- entries of deploy/argocd/argocd-cm.yaml are copies of it, written by
-- `KOLLACFG_BLESS=1 cargo test -p kollacfg-api --test argocd` (which fails while they differ).
--
--   Degraded     a failure condition is True for the current generation: Invalid (the engine
--                refused a fragment's values), Conflicted (a fragment sets an item that another
--                one sets to a different value at the same precedence) or Degraded (a
--                KollaConfig's output was not rendered or not written) — or a condition that
--                must hold is False for it: BrokerSynced (a KollaConfig's live broker could not
--                be synced) or Live (a RabbitPolicy's policy is not live in the broker). The
--                message is the condition's own.
--   Healthy      Ready is True for the current generation.
--   Progressing  anything else: no status yet, a status for an older generation, Ready False
--                or Unknown without a failure (e.g. a fragment waiting for its KollaConfig).
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

if holds("Ready") then
  hs.status = "Healthy"
  hs.message = message("Ready")
  return hs
end

hs.status = "Progressing"
hs.message = message("Ready") or "Waiting for the Ready condition"
return hs
