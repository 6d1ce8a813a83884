// @fae/core hub: barrel (append one export line per file)
export {};
