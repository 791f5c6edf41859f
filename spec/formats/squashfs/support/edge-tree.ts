/**
 * Test-only: the squashfs edge-case directory of issue 4, made on the fly with ordinary tools
 * (root is needed for devices, foreign owners and security.* / trusted.* xattrs).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runOk } from "../../../support/oracles.js";
import { pattern } from "../../../support/patterns.js";
import { seededBytes } from "./synthetic-tree.js";

export const EDGE_BLOCK_BYTES = 128 * 1024;

export function createSquashfsEdgeTree(root: string): void {
  const sh = (script: string): void => void runOk("sh", ["-euc", script], { cwd: root });
  mkdirSync(join(root, "files"), { recursive: true });
  writeFileSync(join(root, "files/empty"), "");
  writeFileSync(join(root, "files/exact-block"), pattern(EDGE_BLOCK_BYTES, 1));
  writeFileSync(join(root, "files/one-past-block"), pattern(EDGE_BLOCK_BYTES + 1, 2));
  writeFileSync(join(root, "files/one-short-block"), pattern(EDGE_BLOCK_BYTES - 1, 3));
  writeFileSync(join(root, "files/three-blocks-and-a-bit"), pattern(3 * EDGE_BLOCK_BYTES + 100, 4));
  writeFileSync(join(root, "files/random-1MiB"), seededBytes(1024 * 1024, 5, false));
  writeFileSync(join(root, "files/duplicate-a"), pattern(2 * EDGE_BLOCK_BYTES + 7, 6));
  writeFileSync(join(root, "files/duplicate-b"), pattern(2 * EDGE_BLOCK_BYTES + 7, 6));
  writeFileSync(join(root, "files/small"), "hello squashfs\n");
  writeFileSync(join(root, "files/small-copy"), "hello squashfs\n");
  sh("truncate -s 64M files/sparse-64MiB && printf 'end' | dd of=files/sparse-64MiB bs=1 seek=$((64*1024*1024-3)) conv=notrunc status=none");
  sh("truncate -s 1M files/zeros-1MiB");

  mkdirSync(join(root, "big-dir"));
  for (let index = 0; index < 3000; index++) {
    writeFileSync(join(root, "big-dir", `entry-${String(index).padStart(4, "0")}-${"x".repeat(index % 40)}`), index % 7 === 0 ? `${index}` : "");
  }
  let deep = join(root, "deep");
  for (let level = 0; level < 24; level++) deep = join(deep, `level-${level}`);
  mkdirSync(deep, { recursive: true });
  writeFileSync(join(deep, "leaf"), "deep\n");

  mkdirSync(join(root, "names"));
  writeFileSync(join(root, "names", "n".repeat(255)), "long name\n");
  writeFileSync(join(root, "names", "ünïcødé-名前-🙂"), "unicode\n");
  writeFileSync(join(root, "names", "!sorts-first"), "");
  writeFileSync(join(root, "names", "\u00e9-high-bytes"), "");

  mkdirSync(join(root, "links/a"), { recursive: true });
  mkdirSync(join(root, "links/b"));
  writeFileSync(join(root, "links/a/original"), "shared content\n");
  sh("ln links/a/original links/b/hardlink && ln links/a/original links/third-name && ln links/a/original big-dir/zz-hardlink");
  sh("ln -s ../a/original links/b/relative && ln -s /etc/passwd links/absolute && ln -s does/not/exist links/dangling");
  sh(`ln -s ${"t".repeat(4000)} links/long-target`);

  mkdirSync(join(root, "special"));
  sh("mkfifo special/fifo && mknod special/null c 1 3 && mknod special/loop7 b 7 7 && mknod special/big-minor c 240 300000");
  sh("python3 -c \"import socket; s=socket.socket(socket.AF_UNIX); s.bind('special/socket')\"");

  mkdirSync(join(root, "modes"));
  sh("touch modes/suid modes/sgid && chmod 4755 modes/suid && chmod 2750 modes/sgid && mkdir modes/sticky && chmod 1777 modes/sticky");
  sh("touch modes/foreign && chown 100000:100001 modes/foreign && touch modes/nobody && chown 65534:65534 modes/nobody");
  sh("touch modes/no-perms && chmod 000 modes/no-perms");

  mkdirSync(join(root, "xattrs"));
  sh("for f in ping1 ping2 ping3; do printf 'bin' > xattrs/$f; setfattr -n security.capability -v 0x0100000200200000000000000000000000000000 xattrs/$f; done");
  sh("touch xattrs/user && setfattr -n user.comment -v 'hello' xattrs/user && setfattr -n user.empty xattrs/user && setfattr -n trusted.overlay.opaque -v y xattrs/user");
  sh(`setfattr -n user.big -v 0x${"ab".repeat(3000)} xattrs/user`);
  sh("mkdir xattrs/dir && setfattr -n user.dir -v 1 xattrs/dir && ln -s target xattrs/link && setfattr -h -n trusted.link -v 2 xattrs/link");
  sh("mknod xattrs/dev c 1 5 && setfattr -n trusted.dev -v d xattrs/dev && mkfifo xattrs/fifo && setfattr -n trusted.fifo -v f xattrs/fifo");
  sh("printf 'hard+xattr' > xattrs/hard1 && ln xattrs/hard1 xattrs/hard2 && setfattr -n user.h -v 1 xattrs/hard1");

  mkdirSync(join(root, "times"));
  sh("touch -d '1970-01-02 00:00:00 UTC' times/1970 && touch -d '1985-06-01 12:00:00 UTC' times/1985 && touch -d '2100-01-01 UTC' times/future");
  sh("touch -h -d '2001-02-03 04:05:06 UTC' links/dangling && touch -d '1999-12-31 23:59:59 UTC' files");
}
