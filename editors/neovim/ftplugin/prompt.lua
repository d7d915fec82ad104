-- Dotprompt (.prompt) buffers: Handlebars comments, tree-sitter when a parser is built.
if vim.b.did_ftplugin then
  return
end
vim.b.did_ftplugin = 1

vim.bo.commentstring = '{{!-- %s --}}'
vim.b.undo_ftplugin = 'setlocal commentstring<'

require('promptls').start_treesitter(0)
