/** `--html FILE`: the one-file HTML report; an existing file is replaced only with --force. */
import { type HtmlReportInput, writeHtmlReport } from '../report/html/html-report.ts';
import { ReportExistsError } from '../report/html/write-file.ts';
import { CliError, oneLine } from './errors.ts';
import { ExitCode } from './exit-codes.ts';

export async function writeHtml(file: string, input: HtmlReportInput, force = false): Promise<void> {
  try {
    const { bytes } = await writeHtmlReport(file, input, { force });
    process.stderr.write(`crosstalk: report written: ${oneLine(file)} (${(bytes / 1024).toFixed(0)} KiB)\n`);
  } catch (e) {
    if (e instanceof ReportExistsError) {
      throw new CliError(
        `${e.file} already exists; choose another file or pass --force to replace it`,
        ExitCode.cantCreate,
      );
    }
    const io = e as NodeJS.ErrnoException;
    if (io.code) throw new CliError(`cannot write ${file}: ${io.code}`, ExitCode.cantCreate);
    throw e;
  }
}
