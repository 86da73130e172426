/** Run a host tool (qemu-img) without a shell, collecting its output, killed after a time limit. */
import { spawn } from 'node:child_process';
import { DriverError } from '../../core/hypervisor.ts';

/**
 * Run `cmd args` and resolve with its exit code and output (never rejects on a non-zero exit).
 * @throws DriverError BACKEND when the program cannot be started
 */
export function runTool(
  cmd: string,
  args: string[],
  timeoutMs = 30_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '',
      stderr = '';
    p.stdout.on('data', (d) => {
      stdout += d;
    });
    p.stderr.on('data', (d) => {
      stderr += d;
    });
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', (e) => {
      clearTimeout(t);
      reject(new DriverError('BACKEND', `Cannot run ${cmd}: ${e.message}`, undefined, { cause: e }));
    });
    // 'close', not 'exit': only then has all of its output been read.
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}
