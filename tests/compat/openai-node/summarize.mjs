// Reads vitest's JSON report and expected.json; prints one line per test and the summary line
// "dummy: P/N passed; external: Y not run (...)". The harness runs only the dummy tests (external ones would call
// the internet); an external test that ran anyway is counted. Exit code 1 when a "dummy" test did not pass, when a
// test that ran is missing from expected.json, or when an expected dummy test did not run.
// Usage: node summarize.mjs <vitest-json-report> <expected.json>
import fs from "node:fs";

const [reportPath, expectedPath] = process.argv.slice(2);
if (!reportPath || !expectedPath) {
  console.error("usage: node summarize.mjs <vitest-json-report> <expected.json>");
  process.exit(2);
}
const report = JSON.parse(fs.readFileSync(reportPath, "utf8"));
const expected = JSON.parse(fs.readFileSync(expectedPath, "utf8")).tests;

// Key of a test: its file under tests/, its describe blocks, its title (as in expected.json).
const results = new Map();
for (const file of report.testResults) {
  const marker = "/tests/";
  const relative = file.name.slice(file.name.lastIndexOf(marker) + marker.length);
  if (file.assertionResults.length === 0 && file.status === "failed") {
    // A file that failed to load (syntax error, import error) has no tests: every expected test of it is "did not run".
    console.error(`file failed to run: ${relative}: ${(file.message ?? "").split("\n")[0]}`);
  }
  for (const test of file.assertionResults) {
    const key = [relative, ...test.ancestorTitles, test.title].join(" > ");
    const message = (test.failureMessages ?? []).join("\n").split("\n")[0];
    results.set(key, { status: test.status, message });
  }
}

const counts = { dummy: { passed: 0, total: 0 }, external: { passed: 0, total: 0 } };
const problems = [];
for (const [key, entry] of Object.entries(expected)) {
  const cls = entry.class;
  if (!(cls in counts)) {
    problems.push(`expected.json: '${key}' has class '${cls}' (must be dummy or external)`);
    continue;
  }
  counts[cls].total++;
  const result = results.get(key);
  const skipped = !result || ["skipped", "pending", "todo"].includes(result.status);
  if (cls === "external" && skipped) {
    counts.external.notRun = (counts.external.notRun ?? 0) + 1;
    console.log(`SKIP ${cls.padEnd(8)} ${key} (not run: ${entry.reason})`);
    continue;
  }
  const status = result?.status ?? "did not run";
  if (status === "passed") {
    counts[cls].passed++;
  }
  const mark = status === "passed" ? "PASS" : "FAIL";
  const detail = status === "passed" ? "" : ` (${status}${result?.message ? ": " + result.message.slice(0, 200) : ""})`;
  console.log(`${mark} ${cls.padEnd(8)} ${key}${detail}`);
  if (cls === "dummy" && status !== "passed") {
    problems.push(`dummy test did not pass: ${key}`);
  }
  if (!result || skipped) {
    problems.push(`expected test did not run: ${key}`);
  }
}
for (const key of results.keys()) {
  if (!(key in expected) && !["skipped", "pending", "todo"].includes(results.get(key).status)) {
    problems.push(`test missing from expected.json: ${key}`);
    console.log(`???? unlisted  ${key} (${results.get(key).status})`);
  }
}

console.log("");
console.log(
  `dummy: ${counts.dummy.passed}/${counts.dummy.total} passed; ` +
    `external: ${counts.external.notRun ?? 0}/${counts.external.total} not run (they need api.openai.com or a Tempo server)` +
    (counts.external.total - (counts.external.notRun ?? 0) > 0 ? `, ${counts.external.passed} of the others passed` : ""),
);
const unlisted = problems.filter((p) => p.startsWith("test missing") || p.startsWith("expected.json") || p.startsWith("expected test did not run"));
for (const problem of unlisted) {
  console.log(problem);
}
process.exit(problems.length > 0 ? 1 : 0);
