-- Runs one Argo CD health check on one object, the way Argo CD calls it: the object is the
-- global `obj`, the script returns a table {status = ..., message = ...}.
--
--   lua5.1 deploy/argocd/health/run_test.lua HEALTH_LUA OBJECT_YAML
--
-- prints the status on the first line and the message after it (no trailing newline), and
-- exits 1 on any error. Needs Lua 5.1 and lyaml (Debian: apt-get install lua5.1 lua-yaml).
--
-- The script runs twice: once on the object as lyaml loads it (a YAML null is lyaml's
-- placeholder value, not nil) and once with every null removed (what Argo CD passes: it
-- converts the object from JSON, where a null becomes nil). Both runs must agree.
-- crates/kollacfg-api/tests/argocd.rs runs every case of every health_test.yaml through it.

local lyaml = require("lyaml")

local STATUSES = {
  Healthy = true,
  Progressing = true,
  Degraded = true,
  Suspended = true,
  Missing = true,
  Unknown = true,
}

local function fail(message)
  io.stderr:write("run_test.lua: ", message, "\n")
  os.exit(1)
end

local function read(path)
  local file, err = io.open(path, "rb")
  if file == nil then
    fail("cannot read " .. tostring(err))
  end
  local content = file:read("*a")
  file:close()
  return content
end

-- A copy of `value` without lyaml's null placeholders.
local function without_nulls(value)
  if value == lyaml.null then
    return nil
  end
  if type(value) ~= "table" then
    return value
  end
  local copy = {}
  for key, item in pairs(value) do
    copy[key] = without_nulls(item)
  end
  return copy
end

-- Runs the check on `object` in an environment of its own (globals the script sets do not
-- leak into the next run); returns status, message.
local function run(script, path, object)
  local chunk, err = loadstring(script, "@" .. path)
  if chunk == nil then
    fail(err)
  end
  local env = setmetatable({ obj = object }, { __index = _G })
  setfenv(chunk, env)
  local ok, result = pcall(chunk)
  if not ok then
    fail("the health check raised an error: " .. tostring(result))
  end
  if type(result) ~= "table" then
    fail("the health check returned " .. type(result) .. ", not a table")
  end
  if type(result.status) ~= "string" or not STATUSES[result.status] then
    fail("the health check returned the status " .. tostring(result.status))
  end
  local message = result.message
  if message == nil then
    message = ""
  elseif type(message) ~= "string" then
    fail("the health check returned a " .. type(message) .. " message")
  end
  return result.status, message
end

if #arg ~= 2 then
  fail("usage: lua5.1 run_test.lua HEALTH_LUA OBJECT_YAML")
end
local script_path, object_path = arg[1], arg[2]
local script = read(script_path)
local ok, object = pcall(lyaml.load, read(object_path))
if not ok then
  fail(object_path .. ": " .. tostring(object))
end
if type(object) ~= "table" then
  fail(object_path .. " holds no object")
end

local status, message = run(script, script_path, object)
local plain_status, plain_message = run(script, script_path, without_nulls(object))
if status ~= plain_status or message ~= plain_message then
  fail(string.format(
    "with YAML nulls the check says %s %q, without them %s %q",
    status, message, plain_status, plain_message
  ))
end
io.write(status, "\n", message)
