-- Helpers for the headless scenarios: every check prints `ok: ...` or fails the run.
local M = {}

M.passed = 0

function M.fail(message)
  io.stderr:write('FAIL: ' .. message .. '\n')
  io.stderr:flush()
  os.exit(1)
end

function M.check(ok, message)
  if not ok then
    M.fail(message)
  end
  M.passed = M.passed + 1
  io.stdout:write('ok: ' .. message .. '\n')
  io.stdout:flush()
end

--- Required environment variable.
function M.env(name)
  local value = vim.env[name]
  if value == nil or value == '' then
    M.fail('environment variable ' .. name .. ' is not set (run test/ci.sh)')
  end
  return value
end

function M.describe(diagnostics)
  local seen = {}
  for _, d in ipairs(diagnostics) do
    seen[#seen + 1] = ('%s@%d(sev %d)'):format(tostring(d.code), d.lnum, d.severity)
  end
  return '[' .. table.concat(seen, ', ') .. ']'
end

--- The first diagnostic of `buf` with `code`, or nil.
function M.find(buf, code)
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    if d.code == code then
      return d
    end
  end
end

--- Waits (up to `ms`) until `pred()` is true; fails with `message()` otherwise.
function M.wait(ms, pred, message)
  if not vim.wait(ms, pred, 50) then
    M.fail(message())
  end
end

--- Waits for a diagnostic with `code` in `buf` (15 s).
function M.wait_diagnostic(buf, code)
  local found
  M.wait(15000, function()
    found = M.find(buf, code)
    return found ~= nil
  end, function()
    return ('no %s diagnostic within 15 s in %s; got %s'):format(
      code, vim.api.nvim_buf_get_name(buf), M.describe(vim.diagnostic.get(buf)))
  end)
  return found
end

function M.client(buf)
  local client
  M.wait(10000, function()
    client = vim.lsp.get_clients({ bufnr = buf, name = 'promptls' })[1]
    return client ~= nil
  end, function()
    return 'no promptls client attached to ' .. vim.api.nvim_buf_get_name(buf) .. ' within 10 s'
  end)
  return client
end

--- The hover text at (line, character), 0-based, or nil.
function M.hover(buf, line, character)
  local params = { textDocument = { uri = vim.uri_from_bufnr(buf) }, position = { line = line, character = character } }
  local responses, err = vim.lsp.buf_request_sync(buf, 'textDocument/hover', params, 10000)
  if not responses then
    M.fail('hover request failed: ' .. tostring(err))
  end
  for _, r in pairs(responses) do
    if r.err then
      M.fail('hover error: ' .. vim.inspect(r.err))
    end
    local contents = r.result and r.result.contents
    if type(contents) == 'table' then
      contents = contents.value or (contents[1] and (contents[1].value or contents[1]))
    end
    if type(contents) == 'string' and contents ~= '' then
      return contents
    end
  end
end

--- Runs `:checkhealth promptls` and fails on any ERROR line; returns the report lines.
function M.checkhealth()
  vim.cmd('silent checkhealth promptls')
  if vim.env.SHOW_HEALTH then
    io.stdout:write(table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n') .. '\n')
  end
  local lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  local text = table.concat(lines, '\n')
  local errors = vim.tbl_filter(function(l)
    return l:find('ERROR', 1, true) ~= nil
  end, lines)
  M.check(#errors == 0, ':checkhealth promptls reports no error' .. (#errors > 0 and (': ' .. table.concat(errors, ' | ')) or ''))
  M.check(text:find('OK', 1, true) ~= nil and text:find('promptls', 1, true) ~= nil, ':checkhealth promptls ran the plugin\'s checks')
  vim.cmd('tabclose')
  return lines
end

function M.done(name)
  for _, client in ipairs(vim.lsp.get_clients({ name = 'promptls' })) do
    client:stop()
  end
  vim.wait(2000, function()
    return #vim.lsp.get_clients({ name = 'promptls' }) == 0
  end, 50)
  if vim.env.CHECKS_FILE then
    local f = assert(io.open(vim.env.CHECKS_FILE, 'a'))
    f:write(M.passed .. '\n')
    f:close()
  end
  io.stdout:write(('neovim %s: %d checks passed (nvim %s)\n'):format(name, M.passed, tostring(vim.version())))
  io.stdout:flush()
  os.exit(0)
end

return M
