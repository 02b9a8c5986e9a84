// Sums vitest JSON reports into the plain line CI's landing check reads: "N passed, M failed".
// Each argument is `report.json:exit-status` of the vitest run that wrote it. A missing report
// counts as a failure: a run that produced no results did not pass. So does a run that exited
// non-zero with no failed test, as vitest does on unhandled errors, which its report omits.
import { readFileSync } from 'node:fs';

let passed = 0;
let failed = 0;
let todo = 0;
for (const argument of process.argv.slice(2)) {
  const [file, status = '0'] = argument.split(':');
  let failedHere = 0;
  try {
    const report = JSON.parse(readFileSync(file, 'utf8'));
    passed += report.numPassedTests;
    failedHere += report.numFailedTests + (report.numRuntimeErrorTestSuites ?? 0);
    todo += report.numTodoTests + report.numPendingTests;
    if (report.numFailedTestSuites > 0 && report.numFailedTests === 0) failedHere += report.numFailedTestSuites;
  } catch {
    console.log(`no test report at ${file}`);
    failedHere += 1;
  }
  if (status !== '0' && failedHere === 0) {
    console.log(`the run that wrote ${file} exited ${status} without a failed test (unhandled errors?): counted as 1 failure`);
    failedHere = 1;
  }
  failed += failedHere;
}
if (todo > 0) console.log(`${todo} todo (operations whose issue has not landed)`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
