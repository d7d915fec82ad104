-- Headless test of the plain setup, without `require('promptls').setup()`: the folder on
-- the runtimepath (test/minimal_init.lua), `vim.lsp.config` + `vim.lsp.enable`, the
-- parser built by :PromptlsBuildParser. Run by test/ci.sh as
--   nvim --headless --clean -u test/minimal_init.lua -l test/plain.lua
local t = dofile(vim.fs.dirname(vim.fs.normalize(debug.getinfo(1, 'S').source:sub(2))) .. '/lib.lua')
local check = t.check
local bin, ws = t.env('PROMPTLS_BIN'), t.env('WORKSPACE')
local expected_line = tonumber(t.env('EXPECTED_LINE'))
local S = vim.diagnostic.severity

check(vim.fn.exists(':PromptlsBuildParser') == 2 and vim.fn.exists(':PromptlsRender') == 2
  and vim.fn.exists(':PromptlsEvaluate') == 2,
  'plugin/promptls.lua defines :PromptlsBuildParser, :PromptlsRender and :PromptlsEvaluate without setup()')

-- Only `settings` (no init_options): lsp/promptls.lua's before_init sends them at start.
vim.lsp.config('promptls', {
  cmd = { bin, 'lsp' },
  settings = { promptls = { checks = { severity = { ['undeclared-variable'] = 'info' } } } },
})
vim.lsp.enable('promptls')

vim.cmd.edit(ws .. '/sentiment.prompt')
local buf = vim.api.nvim_get_current_buf()
check(vim.bo[buf].filetype == 'prompt', 'ftdetect/prompt.lua: filetype is prompt (got ' .. vim.bo[buf].filetype .. ')')
check(vim.treesitter.highlighter.active[buf] == nil, 'no parser built yet: no tree-sitter highlighting, and no error')

local d = t.wait_diagnostic(buf, 'undeclared-variable')
check(d.lnum == expected_line, ('undeclared-variable on line %d (0-based), got %d'):format(expected_line, d.lnum))
check(d.severity == S.INFO, '`settings` alone (wrapped in { promptls = ... }) reach the server at start: severity info (got ' .. d.severity .. ')')
local client = t.client(buf)
check(client.root_dir == ws, 'root_markers from lsp/promptls.lua find the workspace (got ' .. tostring(client.root_dir) .. ')')
t.wait(10000, function()
  return t.lens(buf, '^▶ Evaluate$') ~= nil
end, function()
  return 'without setup(): no "▶ Evaluate" code lens after attach; lenses: ' .. vim.inspect(t.lens_titles(buf))
end)
check(true, 'without setup(), plugin/promptls.lua fetches the code lenses on attach: ' .. table.concat(t.lens_titles(buf), ' | '))

-- :PromptlsBuildParser compiles the grammar into stdpath('data')/site/parser/prompt.so.
local out = vim.fn.stdpath('data') .. '/site/parser/prompt.so'
vim.cmd('silent PromptlsBuildParser')
check(vim.fn.filereadable(out) == 1, ':PromptlsBuildParser wrote ' .. out)
check(vim.treesitter.highlighter.active[buf] ~= nil, ':PromptlsBuildParser starts highlighting in the open prompt buffer')
local ok, query = pcall(vim.treesitter.query.get, 'prompt', 'highlights')
check(ok and query ~= nil, 'highlights.scm compiles against the parser built by the command')

-- A missing grammar folder is a clear error, not a crash.
local messages = {}
local notify = vim.notify
vim.notify = function(msg, level)
  messages[#messages + 1] = { msg = msg, level = level }
end
vim.cmd('PromptlsBuildParser /nonexistent/grammar')
vim.notify = notify
check(#messages == 1 and messages[1].level == vim.log.levels.ERROR and messages[1].msg:find('no grammar at', 1, true) ~= nil,
  ':PromptlsBuildParser with a wrong folder reports ' .. vim.inspect(messages[1] and messages[1].msg))

t.checkhealth()

t.done('plain vim.lsp.enable')
