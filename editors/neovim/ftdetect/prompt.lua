-- *.prompt files are Dotprompt prompts.
vim.filetype.add({ extension = { prompt = 'prompt' } })
