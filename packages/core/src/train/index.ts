// @fae/core train: barrel (append one export line per file)
export {};
