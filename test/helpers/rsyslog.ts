/**
 * Runs the real rsyslog (Debian `rsyslog`, TLS through `rsyslog-openssl`) in the foreground on a
 * loopback port for tests. Every message it receives is written, as rsyslog parsed it, to one line
 * of `received.log`: `pri|timestamp|hostname|app-name|msgid|structured-data|msg`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

export const RSYSLOGD = '/usr/sbin/rsyslogd';
export const installed = existsSync(RSYSLOGD) && spawnSync(RSYSLOGD, ['-v']).status === 0;
/** The OpenSSL network stream driver (package rsyslog-openssl). */
export const tlsInstalled = installed && existsSync('/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_ossl.so');

export interface RsyslogTls {
  ca: string;
  cert: string;
  key: string;
}

export interface ReceivedSyslog {
  pri: number;
  timestamp: string;
  hostname: string;
  appName: string;
  msgid: string;
  structuredData: string;
  msg: string;
}

export class Rsyslog {
  private proc: ChildProcess | undefined;
  private stderr = '';
  readonly output: string;

  constructor(
    private readonly dir: string,
    readonly port: number,
    private readonly tls?: RsyslogTls,
  ) {
    mkdirSync(dir, { recursive: true });
    this.output = join(dir, 'received.log');
  }

  private config(): string {
    const tls = this.tls;
    return [
      `global(workDirectory="${this.dir}"${tls ? ` defaultNetstreamDriver="ossl" defaultNetstreamDriverCAFile="${tls.ca}" defaultNetstreamDriverCertFile="${tls.cert}" defaultNetstreamDriverKeyFile="${tls.key}"` : ''})`,
      tls
        ? 'module(load="imtcp" streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="anon")'
        : 'module(load="imtcp")',
      'template(name="fields" type="string" string="%pri%|%timereported:::date-rfc3339%|%hostname%|%app-name%|%msgid%|%structured-data%|%msg%\\n")',
      'ruleset(name="capture") { action(type="omfile" file="' + this.output + '" template="fields" flushOnTXEnd="on" asyncWriting="off") }',
      `input(type="imtcp" address="127.0.0.1" port="${this.port}" ruleset="capture")`,
      '',
    ].join('\n');
  }

  async start(): Promise<void> {
    const conf = join(this.dir, 'rsyslog.conf');
    writeFileSync(conf, this.config());
    this.stderr = '';
    const proc = spawn(RSYSLOGD, ['-n', '-f', conf, '-i', join(this.dir, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    const keep = (c: Buffer): void => void (this.stderr = (this.stderr + c.toString()).slice(-4000));
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    for (let i = 0; ; i++) {
      if (proc.exitCode !== null) throw new Error(`rsyslogd exited (${proc.exitCode}): ${this.stderr}`);
      if (await this.listening()) return;
      if (i > 400) throw new Error(`rsyslogd not listening on ${this.port}: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  private listening(): Promise<boolean> {
    return new Promise((resolve) => {
      const s = connect(this.port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
  }

  /** SIGTERM and wait: rsyslog closes its connections and flushes its output. */
  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
  }

  received(): ReceivedSyslog[] {
    if (!existsSync(this.output)) return [];
    return readFileSync(this.output, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [pri, timestamp, hostname, appName, msgid, ...rest] = line.split('|');
        // The message is a JSON document: the structured data ends where `|{` begins.
        const tail = rest.join('|');
        const end = tail.indexOf('|{');
        return { pri: Number(pri), timestamp: timestamp!, hostname: hostname!, appName: appName!, msgid: msgid!, structuredData: tail.slice(0, end), msg: tail.slice(end + 1).trim() };
      });
  }
}
