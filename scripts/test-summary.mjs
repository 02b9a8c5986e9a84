// Sums vitest JSON reports into the plain line CI's landing check reads: "N passed, M failed".
// A missing report counts as a failure: a run that produced no results did not pass.
import { readFileSync } from 'node:fs';

let passed = 0;
let failed = 0;
let todo = 0;
for (const file of process.argv.slice(2)) {
  try {
    const report = JSON.parse(readFileSync(file, 'utf8'));
    passed += report.numPassedTests;
    failed += report.numFailedTests + (report.numRuntimeErrorTestSuites ?? 0);
    todo += report.numTodoTests + report.numPendingTests;
    if (report.numFailedTestSuites > 0 && report.numFailedTests === 0) failed += report.numFailedTestSuites;
  } catch {
    console.log(`no test report at ${file}`);
    failed += 1;
  }
}
if (todo > 0) console.log(`${todo} todo (operations whose issue has not landed)`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
