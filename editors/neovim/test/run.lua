-- Headless end-to-end test: the plugin, the real promptls server, a real buffer.
-- Run by test/ci.sh as `nvim --headless --clean -l test/run.lua`; exits non-zero on the
-- first failed expectation.
local env = vim.env
local plugin, bin, file, parser = env.PLUGIN_DIR, env.PROMPTLS_BIN, env.PROMPT_FILE, env.PARSER
local expected_line = tonumber(env.EXPECTED_LINE)

local function fail(message)
  io.stderr:write('FAIL: ' .. message .. '\n')
  os.exit(1)
end

local function check(ok, message)
  if not ok then
    fail(message)
  end
  print('ok: ' .. message)
end

vim.opt.runtimepath:prepend(plugin)
dofile(plugin .. '/ftdetect/prompt.lua')
require('promptls').setup({ cmd = { bin, 'lsp' }, parser = parser })

vim.cmd.edit(file)
local buf = vim.api.nvim_get_current_buf()
check(vim.bo[buf].filetype == 'prompt', 'filetype of ' .. file .. ' is prompt (got ' .. vim.bo[buf].filetype .. ')')

-- Diagnostics from the server.
local found
vim.wait(20000, function()
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    if d.code == 'undeclared-variable' then
      found = d
      return true
    end
  end
  return false
end, 50)
if not found then
  local seen = vim.tbl_map(function(d)
    return tostring(d.code) .. '@' .. d.lnum
  end, vim.diagnostic.get(buf))
  fail('no undeclared-variable diagnostic within 20 s; got: ' .. table.concat(seen, ', '))
end
check(found.lnum == expected_line, ('undeclared-variable on line %d (0-based), got %d'):format(expected_line, found.lnum))
check(found.source == 'promptls', 'diagnostic source is promptls')

-- Hover over the `model` key on line 2.
local client = vim.lsp.get_clients({ bufnr = buf, name = 'promptls' })[1]
check(client ~= nil, 'promptls client attached')
local params = { textDocument = { uri = vim.uri_from_bufnr(buf) }, position = { line = 1, character = 2 } }
local responses = vim.lsp.buf_request_sync(buf, 'textDocument/hover', params, 10000) or {}
local hover
for _, r in pairs(responses) do
  if r.result and r.result.contents then
    hover = r.result.contents.value or r.result.contents
  end
end
check(type(hover) == 'string' and hover:find('provider/model', 1, true) ~= nil, 'hover on `model`: ' .. vim.inspect(hover))

-- Completion of frontmatter keys on a new line.
vim.api.nvim_buf_set_lines(buf, 1, 1, false, { 'promptls.me' })
local complete = vim.lsp.buf_request_sync(buf, 'textDocument/completion', {
  textDocument = { uri = vim.uri_from_bufnr(buf) },
  position = { line = 1, character = 11 },
}, 10000) or {}
local labels = {}
for _, r in pairs(complete) do
  local items = r.result and (r.result.items or r.result) or {}
  for _, item in ipairs(items) do
    labels[item.label] = true
  end
end
check(labels['promptls.metric'] == true, 'completion offers promptls.metric')
vim.api.nvim_buf_set_lines(buf, 1, 2, false, {})

-- Tree-sitter: the parser loads, the queries from the grammar compile, highlighting runs.
check(vim.treesitter.language.inspect('prompt') ~= nil, 'tree-sitter parser `prompt` is loaded')
for _, name in ipairs({ 'highlights', 'folds', 'injections' }) do
  local ok, query = pcall(vim.treesitter.query.get, 'prompt', name)
  check(ok and query ~= nil, 'query ' .. name .. '.scm compiles: ' .. tostring(ok and '' or query))
end
local tree = vim.treesitter.get_parser(buf, 'prompt'):parse()[1]
check(tree:root():type() == 'document' and not tree:root():has_error(), 'the example parses without errors')
check(vim.treesitter.highlighter.active[buf] ~= nil, 'tree-sitter highlighting is active')

vim.lsp.stop_client(client.id)
print('neovim: all checks passed (nvim ' .. tostring(vim.version()) .. ')')
os.exit(0)
