-- Headless end-to-end test through `require('promptls').setup()`: the real promptls
-- server, real buffers, the compiled tree-sitter parser. Run by test/ci.sh as
--   nvim --headless --clean -u test/minimal_init.lua -l test/run.lua
-- Exits non-zero on the first failed expectation.
local t = dofile(vim.fs.dirname(vim.fs.normalize(debug.getinfo(1, 'S').source:sub(2))) .. '/lib.lua')
local check = t.check
local bin, ws, parser = t.env('PROMPTLS_BIN'), t.env('WORKSPACE'), t.env('PARSER')
local expected_line = tonumber(t.env('EXPECTED_LINE'))
local S = vim.diagnostic.severity

-- Evaluations (1c) call a model server on 127.0.0.1 in place of groq, with the key from
-- the variable `apiKeyEnv` names. Their cache and history go to the workspace's
-- .promptls/, removed first so that every run calls the model (ci.sh shares the workspace).
vim.fn.delete(ws .. '/.promptls', 'rf')
local model = t.model_server()
local KEY = 'sk-test-nvim-5e21'

require('promptls').setup({
  cmd = { bin, 'lsp' },
  cmd_env = { PROMPTLS_NVIM_TEST_KEY = KEY },
  parser = parser,
  settings = {
    checks = { severity = { ['undeclared-variable'] = 'hint' } },
    models = { aliases = { fast = 'groq/llama-3.1-8b-instant' } },
    providers = { groq = { baseUrl = model.url, apiKeyEnv = 'PROMPTLS_NVIM_TEST_KEY', rpm = 6000 } },
  },
})

-- 1. The sentiment example with `{{text}}` misspelt `{{txet}}`.
vim.cmd.edit(ws .. '/sentiment.prompt')
local buf = vim.api.nvim_get_current_buf()
check(vim.bo[buf].filetype == 'prompt', 'filetype of sentiment.prompt is prompt (got ' .. vim.bo[buf].filetype .. ')')
check(vim.bo[buf].commentstring == '{{!-- %s --}}', 'ftplugin sets commentstring to a Handlebars comment')

local d = t.wait_diagnostic(buf, 'undeclared-variable')
check(d.lnum == expected_line, ('undeclared-variable on line %d (0-based), got %d'):format(expected_line, d.lnum))
check(d.source == 'promptls', 'diagnostic source is promptls')
check(d.severity == S.HINT, 'settings.checks.severity reached the server at start: undeclared-variable is a hint (got ' .. d.severity .. ')')

local client = t.client(buf)
check(client.root_dir == ws, 'root_dir is the workspace with .git (got ' .. tostring(client.root_dir) .. ')')
check(vim.deep_equal(client.config.filetypes, { 'prompt' }), 'filetypes come from lsp/promptls.lua')
check(client.config.cmd[1] == bin, 'setup({ cmd }) points at ' .. bin)

-- 1b. Code lenses: fetched when promptls attaches, refreshed on BufEnter, InsertLeave and
--     BufWritePost of the buffer.
local events = {}
local has_group, autocmds = pcall(vim.api.nvim_get_autocmds, { group = 'promptls.codelens', buffer = buf })
for _, autocmd in ipairs(has_group and autocmds or {}) do
  events[autocmd.event] = true
end
check(events.BufEnter and events.InsertLeave and events.BufWritePost,
  'on attach: lens refreshes on BufEnter, InsertLeave, BufWritePost (got ' .. table.concat(vim.tbl_keys(events), ', ') .. ')')
local function wait_lens(pattern, what)
  t.wait(30000, function()
    return t.lens(buf, pattern) ~= nil
  end, function()
    return ('no code lens %s within 30 s; lenses: %s'):format(what, vim.inspect(t.lens_titles(buf)))
  end)
  return t.lens(buf, pattern)
end
local lens = wait_lens('^▶ Evaluate$', '"▶ Evaluate" after attach')
check(lens.command.command == 'promptls.evaluate' and lens.range.start.line == 0
  and lens.command.arguments[1].uri == vim.uri_from_bufnr(buf),
  'after attach, vim.lsp.codelens.get() has "▶ Evaluate" on line 0 running promptls.evaluate for the buffer')
vim.lsp.codelens.clear(client.id, buf)
check(#vim.lsp.codelens.get(buf) == 0, 'vim.lsp.codelens.clear() empties the lenses')
vim.api.nvim_exec_autocmds('InsertLeave', { buffer = buf })
wait_lens('^▶ Evaluate$', '"▶ Evaluate" after InsertLeave')
check(true, 'InsertLeave refreshes the lenses: ' .. table.concat(t.lens_titles(buf), ' | '))

-- 1c. Evaluations: ▶ Evaluate through vim.lsp.codelens.run() on every row, the score
--     lens brought by the server's workspace/codeLens/refresh, its report as JSON, and
--     :PromptlsEvaluate with a row limit.
local rows = #vim.fn.readfile(ws .. '/data/sentiment.csv') - 1
local promptls = require('promptls')
local refreshes = 0
local on_refresh = promptls.on_codelens_refresh
promptls.on_codelens_refresh = function(...)
  refreshes = refreshes + 1
  return on_refresh(...)
end
local messages = {}
local notify, select = vim.notify, vim.ui.select
vim.notify = function(msg, level)
  messages[#messages + 1] = { msg = msg, level = level }
end
-- Picks the lens whose title matches (codelens.run() asks when a line has several).
local function choose(pattern)
  vim.ui.select = function(items, opts, on_choice)
    for _, item in ipairs(items) do
      if opts.format_item(item):find(pattern) then
        return on_choice(item)
      end
    end
    t.fail('no lens ' .. pattern .. ' to choose among ' .. vim.inspect(vim.tbl_map(opts.format_item, items)))
  end
end
-- An evaluation stops before any call while `{{txet}}` is undeclared (it would send every
-- row without its text): spell it right for the evaluations, and back after them.
local function set_variable(name)
  vim.api.nvim_buf_set_lines(buf, expected_line, expected_line + 1, false, { '{{' .. name .. '}}' })
  t.wait(10000, function()
    return (t.find(buf, 'undeclared-variable') ~= nil) == (name == 'txet')
  end, function()
    return 'the server did not see {{' .. name .. '}}: ' .. t.describe(vim.diagnostic.get(buf))
  end)
end
set_variable('text')
vim.api.nvim_win_set_cursor(0, { 1, 0 })
choose('^▶ Evaluate$')
vim.lsp.codelens.run()
local score = wait_lens('^exact_match %d', 'with the score after ▶ Evaluate')
check(score.command.command == 'promptls.showEvaluation' and score.command.title:find(('/%d · '):format(rows), 1, true) ~= nil,
  ('▶ Evaluate ran all %d rows: score lens "%s"'):format(rows, score.command.title))
check(refreshes > 0, ('the server\'s workspace/codeLens/refresh reached the plugin (%d times)'):format(refreshes))
check(vim.iter(messages):any(function(m)
  return m.msg:find('evaluating sentiment.prompt', 1, true) ~= nil
end), 'running the lens says the evaluation started: ' .. vim.inspect(messages, { newline = ' ', indent = '' }))

choose('^exact_match %d')
vim.lsp.codelens.run()
local report
t.wait(10000, function()
  if vim.bo.filetype == 'json' then
    report = vim.json.decode(table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n'))
  end
  return report ~= nil
end, function()
  return 'the score lens opened no json buffer; messages: ' .. vim.inspect(messages)
end)
check(report.metric == 'exact_match' and report.rows == rows and #report.per_row == rows and report.error_rows == 0,
  ('the score lens shows the report: %s, %d rows, %d passed'):format(report.metric, report.rows, report.passed_rows))
check(#model.requests > 0 and #model.requests == report.calls and report.calls + report.cache_hits == rows,
  ('the model server answered the calls (%d requests, %d calls, %d from the cache)'):format(#model.requests, report.calls, report.cache_hits))
local keyed = vim.tbl_filter(function(r)
  return r.authorization == 'Bearer ' .. KEY and r.path == '/v1/chat/completions'
end, model.requests)
check(#keyed == #model.requests, 'providers.groq.baseUrl and apiKeyEnv reached the server: ' .. vim.inspect(model.requests[1], { newline = ' ', indent = '' }))
vim.cmd('close')
vim.cmd.buffer(buf)

vim.cmd('PromptlsEvaluate 3')
score = wait_lens('^exact_match %d.* · %d+/3 · ', 'for 3 rows after :PromptlsEvaluate 3')
check(true, ':PromptlsEvaluate 3 evaluates 3 rows: ' .. score.command.title)
vim.notify, vim.ui.select = notify, select
promptls.on_codelens_refresh = on_refresh
model.close()
set_variable('txet')

-- 2. Hover on the frontmatter key `model` (line 1).
local hover = t.hover(buf, 1, 2)
check(hover ~= nil and hover:find('provider/model', 1, true) ~= nil, 'hover on `model` explains it: ' .. vim.inspect(hover))

-- 3. Completion of frontmatter keys on a new line (keys already in the file are not
--    offered again, so ask for one that is not there).
vim.api.nvim_buf_set_lines(buf, 1, 1, false, { 'promptls.sp' })
local responses = vim.lsp.buf_request_sync(buf, 'textDocument/completion', {
  textDocument = { uri = vim.uri_from_bufnr(buf) },
  position = { line = 1, character = 11 },
}, 10000) or {}
local labels = {}
for _, r in pairs(responses) do
  local items = r.result and (r.result.items or r.result) or {}
  for _, item in ipairs(items) do
    labels[item.label] = true
  end
end
check(labels['promptls.split'] == true, 'completion after `promptls.sp` offers promptls.split: ' .. vim.inspect(vim.tbl_keys(labels)))
vim.api.nvim_buf_set_lines(buf, 1, 2, false, {})

-- 4. A second file: a misspelt key, and a model alias from the settings.
vim.cmd.edit(ws .. '/alias.prompt')
local abuf = vim.api.nvim_get_current_buf()
d = t.wait_diagnostic(abuf, 'unknown-key')
check(d.lnum == 2, 'unknown-key for `modle:` on line 2 (got ' .. d.lnum .. ')')
check(t.find(abuf, 'model-name') == nil, 'settings.models.aliases: `promptls.teacher: fast` is not a misspelt model: ' .. t.describe(vim.diagnostic.get(abuf)))
hover = t.hover(abuf, 1, 8)
check(hover ~= nil and hover:find('alias', 1, true) ~= nil and hover:find('groq/llama-3.1-8b-instant', 1, true) ~= nil,
  'hover on the alias `fast` names its model: ' .. vim.inspect(hover))

-- 5. New settings through workspace/didChangeConfiguration.
client.settings = { promptls = { checks = { disabled = { 'unknown-key' } } } }
client:notify('workspace/didChangeConfiguration', { settings = client.settings })
t.wait(15000, function()
  return t.find(abuf, 'unknown-key') == nil and t.find(abuf, 'model-name') ~= nil
end, function()
  return 'after didChangeConfiguration: expected model-name and no unknown-key, got ' .. t.describe(vim.diagnostic.get(abuf))
end)
check(t.find(abuf, 'model-name').lnum == 3, 'didChangeConfiguration: checks.disabled hides unknown-key, the alias is gone (model-name on line 3)')
t.wait(15000, function()
  local u = t.find(buf, 'undeclared-variable')
  return u ~= nil and u.severity ~= S.HINT
end, function()
  return 'after didChangeConfiguration: undeclared-variable still a hint: ' .. t.describe(vim.diagnostic.get(buf))
end)
check(true, 'didChangeConfiguration: the severity override is gone (undeclared-variable severity ' .. t.find(buf, 'undeclared-variable').severity .. ')')

-- 6. :PromptlsRender shows the rendered prompt for dataset row 1.
vim.cmd.buffer(buf)
vim.cmd('PromptlsRender 1')
local rendered
t.wait(10000, function()
  if vim.bo.filetype == 'json' then
    rendered = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
  end
  return rendered ~= nil
end, function()
  return ':PromptlsRender 1 opened no json buffer'
end)
check(rendered:find('Classify the sentiment', 1, true) ~= nil and rendered:find('"messages"', 1, true) ~= nil,
  ':PromptlsRender 1 shows the rendered messages')
vim.cmd('close')
vim.cmd.buffer(buf)

-- 7. Tree-sitter: the parser loads, the grammar's queries compile, highlighting runs.
check(vim.treesitter.language.inspect('prompt') ~= nil, 'tree-sitter parser `prompt` is loaded from ' .. parser)
for _, name in ipairs({ 'highlights', 'injections', 'folds' }) do
  local ok, query = pcall(vim.treesitter.query.get, 'prompt', name)
  check(ok and query ~= nil, 'query ' .. name .. '.scm compiles' .. (ok and '' or (': ' .. tostring(query))))
end
local tree = vim.treesitter.get_parser(buf, 'prompt'):parse(true)[1]
check(tree:root():type() == 'document' and not tree:root():has_error(), 'the example parses without errors')
check(vim.treesitter.highlighter.active[buf] ~= nil, 'tree-sitter highlighting is active in sentiment.prompt')
check(vim.treesitter.highlighter.active[abuf] ~= nil, 'tree-sitter highlighting is active in alias.prompt')

local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
local function line_of(text)
  for i, l in ipairs(lines) do
    if l == text then
      return i - 1
    end
  end
  t.fail('no line ' .. text)
end
local function captures(row, col)
  local names = {}
  for _, c in ipairs(vim.treesitter.get_captures_at_pos(buf, row, col)) do
    names[#names + 1] = c.capture
  end
  return names
end
local function has_capture(row, col, name, what)
  local names = captures(row, col)
  check(vim.tbl_contains(names, name), ('%s is @%s (captures: %s)'):format(what, name, table.concat(names, ' ')))
end
has_capture(0, 0, 'punctuation.delimiter', 'the frontmatter `---`')
local role = line_of('{{role "system"}}')
has_capture(role, 2, 'keyword.directive', '`role` in {{role "system"}}')
has_capture(role, 8, 'string.special', '"system" in {{role "system"}}')
has_capture(line_of('{{> persona tone="calm"}}'), 4, 'module', 'the partial name `persona`')
has_capture(line_of('{{!-- promptls:demos --}}'), 4, 'comment.documentation', 'the demos start marker')
has_capture(expected_line, 2, 'variable', '`txet` in {{txet}}')
has_capture(expected_line, 0, 'punctuation.bracket', '`{{`')

-- Redraw with a UI-less grid: the highlighter's decoration provider runs without error.
local ok, err = pcall(vim.cmd.redraw, { bang = true })
check(ok, 'redraw with tree-sitter highlighting raises no error' .. (ok and '' or (': ' .. tostring(err))))

local fold = vim.api.nvim_buf_call(buf, function()
  return vim.treesitter.foldexpr(1)
end)
check(fold == '>1', 'folds.scm: the frontmatter starts a fold (foldexpr(1) = ' .. tostring(fold) .. ')')

-- 8. :checkhealth promptls
t.checkhealth()

t.done('setup()')
