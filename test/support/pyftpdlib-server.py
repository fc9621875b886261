"""An FTP server configured like the ones administrators really have, for the integration tests.

Debian's python3-pyftpdlib with one user (name in --user, password in the environment variable
VMFTP_PYFTPD_PASSWORD, never in argv) rooted at --root on 127.0.0.1:--port, and any of:

  --masquerade ADDR    PASV names ADDR (a NAS behind NAT announcing its private address)
  --remove CMD,...     these commands answer "500 Command not understood" and vanish from FEAT
                       (SIZE, EPSV, MLSD, MLST, FEAT, APPE, REST...)
  --msdos              LIST (and STAT) lines in the MS-DOS / IIS format
  --max-cons-per-ip N  a further connection from the same address gets 421 and is closed
  --refuse-listing DIR,...  listing these folders (paths as the user sees them) answers
                       "550 Permission denied." while CWD into them works, as a NAS does for a
                       folder the FTP user may enter but not read

Started and stopped by test/support/pyftpdlib.ts; it logs nothing but errors.
"""
import argparse
import errno
import logging
import os
import stat
import time

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.filesystems import AbstractedFS
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


class MsDosFS(AbstractedFS):
    """Lists folders as IIS does in its MS-DOS style: `11-28-26  06:25PM       <DIR>          Bart`."""

    def format_list(self, basedir, listing, ignore_err=True):
        for name in listing:
            try:
                st = self.lstat(os.path.join(basedir, name))
            except OSError:
                if ignore_err:
                    continue
                raise
            when = time.strftime('%m-%d-%y  %I:%M%p', time.localtime(st.st_mtime))
            size = '<DIR>         ' if stat.S_ISDIR(st.st_mode) else '%14d' % st.st_size
            yield ('%s       %s %s\r\n' % (when, size, name)).encode('utf8', self.cmd_channel.unicode_errors)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--root', required=True)
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--user', required=True)
    parser.add_argument('--passive-ports', required=True, help='LOW-HIGH')
    parser.add_argument('--masquerade')
    parser.add_argument('--remove', default='')
    parser.add_argument('--msdos', action='store_true')
    parser.add_argument('--max-cons-per-ip', type=int, default=0)
    parser.add_argument('--refuse-listing', default='')
    args = parser.parse_args()

    logging.basicConfig(level=logging.ERROR)
    authorizer = DummyAuthorizer()
    authorizer.add_user(args.user, os.environ['VMFTP_PYFTPD_PASSWORD'], args.root, perm='elradfmwMT')
    removed = {name.strip().upper() for name in args.remove.split(',') if name.strip()}
    low, high = (int(part) for part in args.passive_ports.split('-'))
    refused = {os.path.realpath(os.path.join(args.root, name.strip().strip('/'))) for name in args.refuse_listing.split(',') if name.strip()}

    class Filesystem(MsDosFS if args.msdos else AbstractedFS):
        # MLSD, LIST, NLST and STAT all read a folder through listdir; CWD does not.
        def listdir(self, path):
            if os.path.realpath(path) in refused:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
            return super().listdir(path)

    class Handler(FTPHandler):
        proto_cmds = {name: spec for name, spec in FTPHandler.proto_cmds.items() if name not in removed}
        banner = 'vmftp test server (pyftpdlib)'
        passive_ports = range(low, high + 1)
        masquerade_address = args.masquerade
        abstracted_fs = Filesystem

    Handler.authorizer = authorizer
    server = FTPServer(('127.0.0.1', args.port), Handler)
    server.max_cons_per_ip = args.max_cons_per_ip
    server.serve_forever()


if __name__ == '__main__':
    main()
