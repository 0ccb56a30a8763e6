# ftpfleet health agent: does what an FTP client does against this instance's own pure-ftpd, every
# few seconds, and answers GET /health with the latest verdict, for Route53 health checks:
#   200 "healthy\n" or "healthy: <note>\n"; 503 "<reason>\n"; anything else 404.
# configure-health.sh installs it and writes its command line; the health account's password is
# read from a file only this agent's account can read, never from the command line.
# It never touches the bucket mount itself: it goes through FTP, each operation with a timeout, so
# a hung s3fs fails a check and never hangs the agent. Standard library only.
import argparse
import ftplib
import http.server
import os
import ssl
import subprocess
import threading
import time

USER = "ftpfleet-health"
PROBE = b"ftpfleet health probe\n"
# Hysteresis (docs/provisioning.md, "Deep health"): unhealthy after FALL failed checks in a row,
# healthy again after RISE passes in a row; it starts unhealthy. While a change is pending, the
# next check comes after FAST seconds instead of the interval.
FALL, RISE, FAST = 2, 3, 1
# The certificate must stay valid for at least this long.
CERT_MARGIN = 86400
# A checker silent this long is stuck (or the instance too slow to be of use): 503.
STALE = 30


class Failed(Exception):
    pass


def check_disks(args):
    # s3fs stages each file it serves or receives in its temporary folder, and refuses both
    # (ENOSPC) once less than 10 % of that disk is free (its free_space_ratio): fail before that.
    for path in args.disk:
        fs = os.statvfs(path)
        free = fs.f_bavail * fs.f_frsize >> 20
        need = max(args.min_free_mib, (fs.f_blocks * fs.f_frsize >> 20) * args.min_free_percent // 100)
        if free < need:
            raise Failed(f"disk: {path} has {free} MiB free (less than {need} MiB)")
        if fs.f_favail * 100 < fs.f_files:
            raise Failed(f"disk: {path} has {fs.f_favail} inodes free (less than 1 %)")


# The certificate's end, asked of openssl once per certificate.
ends = {}


def check_certificate(der, timeout):
    if der not in ends:
        ends.clear()
        out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-enddate"],
                             input=der, capture_output=True, timeout=timeout, check=True).stdout
        ends[der] = ssl.cert_time_to_seconds(out.decode().strip().split("=", 1)[1])
    if ends[der] - time.time() < CERT_MARGIN:
        end = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ends[der]))
        raise Failed(f"certificate: {'expired' if ends[der] < time.time() else 'expires'} {end}")


# One check: a note (None or text) when it passes, Failed when it does not.
def check(args):
    check_disks(args)
    with open(args.secret) as f:
        password = f.read().strip()
    if args.ftps:
        # Expiry is checked below; the name is the fleet's, not 127.0.0.1's.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        ftp = ftplib.FTP_TLS(context=context, timeout=args.timeout)
    else:
        ftp = ftplib.FTP(timeout=args.timeout)
    stage = "connect"
    try:
        ftp.connect(args.host, 21)
        if args.ftps:
            stage = "AUTH TLS"
            ftp.auth()
            check_certificate(ftp.sock.getpeercert(binary_form=True), args.timeout)
        stage = "login"
        ftp.login(USER, password)
        if args.ftps:
            ftp.prot_p()
        # Passive (ftplib's default), through s3fs: the home is a view of .ftpfleet/health/.
        stage = "LIST"
        lines = []
        ftp.retrlines("LIST", lines.append)
        if not any(line.endswith(" probe") for line in lines):
            raise Failed("LIST: no probe in the health folder")
        stage = "RETR"
        data = bytearray()
        ftp.retrbinary("RETR probe", data.extend)
        if data != PROBE:
            raise Failed("RETR: the probe does not hold the expected text")
        ftp.quit()
    except ftplib.error_temp as error:
        # Too many sessions: the server is full, not broken, and a busy instance stays in.
        if stage in ("connect", "login") and ("maximum" in str(error) or "Too many" in str(error)):
            return f"busy ({error})"
        raise Failed(f"{stage}: {error}")
    except ftplib.Error as error:
        raise Failed(f"{stage}: {error}")
    except TimeoutError:
        raise Failed(f"{stage}: no answer within {args.timeout:g} s")
    except (OSError, EOFError, subprocess.SubprocessError) as error:
        raise Failed(f"{stage}: {getattr(error, 'strerror', None) or error or type(error).__name__}")
    finally:
        ftp.close()


# The latest verdict, replaced whole by the checker; the HTTP side only reads it.
verdict = (False, f"starting: 0 of {RISE} checks passed", time.monotonic())


def watch(args):
    global verdict
    healthy, ever, passes, fails = False, False, 0, 0
    while True:
        try:
            ok, text = True, check(args)
        except Exception as error:
            ok, text = False, str(error) if isinstance(error, Failed) else f"check: {error!r}"
        passes, fails = (passes + 1, 0) if ok else (0, fails + 1)
        was = healthy
        if healthy and fails >= FALL:
            healthy = False
        elif not healthy and passes >= RISE:
            healthy = ever = True
        if healthy:
            body = f"healthy: {text}" if ok and text else "healthy" if ok else f"healthy: 1 check failed ({text})"
        else:
            body = f"{'recovering' if ever else 'starting'}: {passes} of {RISE} checks passed" if ok else text
        verdict = (healthy, body, time.monotonic())
        if healthy != was:
            print("healthy" if healthy else f"unhealthy: {body}", flush=True)
        time.sleep(FAST if (fails if healthy else passes) else args.interval)


class Handler(http.server.BaseHTTPRequestHandler):
    server_version, sys_version = "ftpfleet-health", ""
    # A client that sends nothing must not hold a thread.
    timeout = 2

    def do_GET(self):
        status, body = 404, "not found"
        if self.path == "/health":
            healthy, body, at = verdict
            status = 200 if healthy else 503
            if time.monotonic() - at > STALE:
                status, body = 503, f"no verdict for {time.monotonic() - at:.0f} s"
        data = f"{body}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def do_other(self):
        self.send_error(404)

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_other

    # Route53's checkers ask every few seconds from many places: no line per request.
    def log_message(self, *_):
        pass


parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=8021)
parser.add_argument("--interval", type=float, default=3)
parser.add_argument("--timeout", type=float, default=4)
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--ftps", action="store_true")
parser.add_argument("--secret", required=True)
parser.add_argument("--disk", action="append", default=[])
parser.add_argument("--min-free-mib", type=int, default=64)
parser.add_argument("--min-free-percent", type=int, default=11)
options = parser.parse_args()
threading.Thread(target=watch, args=(options,), daemon=True).start()
print(f"answering GET /health on port {options.port}", flush=True)
http.server.ThreadingHTTPServer(("", options.port), Handler).serve_forever()
