/**
 * Builds a small host tree with every awkward case the tree readers must keep: SUID/SGID/
 * sticky bits, device nodes, a fifo, hardlinks, long and unicode names, long symlink targets,
 * odd owners (including one too large for an octal ustar field), old and pre-epoch mtimes,
 * xattrs (user.* and security.capability). Needs root (mknod, chown, security.*).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { runOk } from "../support/oracles.js";

export function makeEdgeTree(root: string): void {
  const sh = (script: string): void => {
    runOk("sh", ["-euc", script], { cwd: root });
  };
  mkdirSync(root, { recursive: true });
  const longDirectory = `deep/${"d".repeat(60)}/${"e".repeat(60)}`;
  const longName = "n".repeat(250) + ".txt";
  mkdirSync(`${root}/${longDirectory}`, { recursive: true });
  writeFileSync(`${root}/${longDirectory}/${longName}`, "long path\n");
  writeFileSync(`${root}/héllo wörld ✓ 😀.txt`, "unicode\n");
  writeFileSync(`${root}/empty`, "");
  writeFileSync(`${root}/big.bin`, new Uint8Array(3 * 1024 * 1024 + 17).map((_, index) => (index * 7919) & 0xff));
  sh(`
    printf 'suid\\n' > suid && chmod 4755 suid
    printf 'sgid\\n' > sgid && chmod 2711 sgid
    mkdir sticky && chmod 1777 sticky
    mkdir setgid-dir && chmod 2775 setgid-dir && printf x > setgid-dir/inner
    mknod null c 1 3 && chmod 666 null
    mknod loop7 b 7 7
    mknod bigdev c 260 70000
    mkfifo fifo && chmod 620 fifo
    printf 'linked\\n' > setgid-dir/a && ln setgid-dir/a hard-b && ln setgid-dir/a sticky/hard-c
    ln -s ${"t".repeat(150)}/target long-symlink
    ln -s ../etc/passwd relative-up-link
    ln -s /absolute/target abs-link
    printf 'owned\\n' > owned && chown 1234:5678 owned
    printf 'bigowner\\n' > bigowner && chown 3000000:3000001 bigowner
    touch -h -d @1000 owned long-symlink
    touch -d @0 empty
    setfattr -n user.comment -v "hello xattr" owned
    setfattr -n user.binary -v 0x00ff7f80 sticky
    setfattr -n user.empty-value suid
    setcap cap_net_raw+ep sgid
    touch -d @1600000000 sticky setgid-dir deep . 
  `);
}
