/**
 * Output files (`--html FILE`, `export -o FILE`, doctor's JSON): written beside the target and
 * moved into place (never through a link, never over a device or FIFO, mode 0600); an existing
 * file is replaced only with --force, else exit 73.
 */
import { type HtmlReportInput, renderHtmlReport } from '../report/html/html-report.ts';
import {
  checkReportTarget,
  NotRegularOutputError,
  ReportExistsError,
  writeReportFile,
} from '../report/html/write-file.ts';
import { CliError, oneLine } from './errors.ts';
import { ExitCode } from './exit-codes.ts';

export async function writeHtml(file: string, input: HtmlReportInput, force = false): Promise<void> {
  const bytes = await writeOutput(file, renderHtmlReport(input), force);
  process.stderr.write(`crosstalk: report written: ${oneLine(file)} (${(bytes / 1024).toFixed(0)} KiB)\n`);
}

/** Writes an output file; returns its size. Errors become one line and exit 73. */
export async function writeOutput(file: string, data: string | Uint8Array, force = false): Promise<number> {
  try {
    return (await writeReportFile(file, data, { force })).bytes;
  } catch (e) {
    throw outputError(file, e);
  }
}

/** Refuses early (exit 73) an output that writeOutput would refuse, before the input is decoded. */
export async function checkOutput(file: string, force = false): Promise<void> {
  try {
    await checkReportTarget(file, { force });
  } catch (e) {
    throw outputError(file, e);
  }
}

function outputError(file: string, e: unknown): unknown {
  if (e instanceof ReportExistsError) {
    return new CliError(
      `${e.file} already exists; choose another file or pass --force to replace it`,
      ExitCode.cantCreate,
    );
  }
  if (e instanceof NotRegularOutputError) return new CliError(e.message, ExitCode.cantCreate);
  const io = e as NodeJS.ErrnoException;
  if (io.code) return new CliError(`cannot write ${file}: ${io.code}`, ExitCode.cantCreate);
  return e;
}
