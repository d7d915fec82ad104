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

--- An OpenAI-compatible chat endpoint on 127.0.0.1, for evaluations: answers "positive"
--- when the last user message loves or praises, else "negative". Returns its base URL
--- and the requests it received ({ path, authorization }).
function M.model_server()
  local uv = vim.uv
  local requests = {}
  local server = assert(uv.new_tcp())
  assert(server:bind('127.0.0.1', 0))
  local function answer(sock, head, body)
    local ok, request = pcall(vim.json.decode, body)
    local text = ''
    if ok and type(request) == 'table' and type(request.messages) == 'table' then
      for i = #request.messages, 1, -1 do
        local m = request.messages[i]
        if m.role == 'user' then
          text = type(m.content) == 'string' and m.content or vim.json.encode(m.content)
          break
        end
      end
    end
    requests[#requests + 1] = {
      path = head:match('^%u+ (%S+)'),
      authorization = head:match('\r\n[Aa]uthorization:%s*([^\r\n]*)'),
    }
    local lower = text:lower()
    local label = (lower:find('lov') or lower:find('great') or lower:find('best')) and 'positive' or 'negative'
    local reply = vim.json.encode({
      id = 'mock',
      object = 'chat.completion',
      model = 'llama-3.1-8b-instant',
      choices = { { index = 0, message = { role = 'assistant', content = label }, finish_reason = 'stop' } },
      usage = { prompt_tokens = 50, completion_tokens = 1, total_tokens = 51 },
    })
    local response = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s'
    sock:write(response:format(#reply, reply), function()
      sock:shutdown(function()
        sock:close()
      end)
    end)
  end
  server:listen(128, function(err)
    assert(not err, err)
    local sock = assert(uv.new_tcp())
    server:accept(sock)
    local data = ''
    sock:read_start(function(read_err, chunk)
      if read_err or not chunk then
        if not sock:is_closing() then
          sock:close()
        end
        return
      end
      data = data .. chunk
      local head_end = data:find('\r\n\r\n', 1, true)
      if not head_end then
        return
      end
      local head = data:sub(1, head_end - 1)
      local length = tonumber(head:lower():match('\r\ncontent%-length:%s*(%d+)')) or 0
      if #data < head_end + 3 + length then
        return
      end
      sock:read_stop()
      answer(sock, head, data:sub(head_end + 4, head_end + 3 + length))
    end)
  end)
  return {
    url = ('http://127.0.0.1:%d/v1'):format(server:getsockname().port),
    requests = requests,
    close = function()
      server:close()
    end,
  }
end

--- The titles of the code lenses of `buf`.
function M.lens_titles(buf)
  local titles = {}
  for _, lens in ipairs(vim.lsp.codelens.get(buf)) do
    titles[#titles + 1] = lens.command and lens.command.title or '?'
  end
  return titles
end

--- The first code lens of `buf` whose title matches the Lua pattern, or nil.
function M.lens(buf, pattern)
  for _, lens in ipairs(vim.lsp.codelens.get(buf)) do
    if lens.command and lens.command.title:find(pattern) then
      return lens
    end
  end
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
