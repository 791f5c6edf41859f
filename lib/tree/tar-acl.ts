/**
 * POSIX ACLs stored by `tar --acls` as text (PAX SCHILY.acl.access / SCHILY.acl.default, in
 * acl_to_text form: "user::rw-\nuser:1000:r--\ngroup::r--\nmask::r--\nother::r--\n"; star
 * appends the numeric id as a 4th field) become the system.posix_acl_access/_default xattrs
 * that a directory source reports, in the kernel's binary layout
 * (include/uapi/linux/posix_acl_xattr.h: le32 version 2, then le16 tag, le16 perm, le32 id per
 * entry, sorted as posix_acl_valid() requires).
 */
const TAGS = { user: 0x01, namedUser: 0x02, group: 0x04, namedGroup: 0x08, mask: 0x10, other: 0x20 } as const;
const UNDEFINED_ID = 0xffffffff;

export interface AclEntry {
  readonly tag: number;
  readonly permissions: number;
  readonly id: number;
}

/**
 * Parses acl_to_text output. Returns an error text when a named user or group has no numeric
 * id, since names cannot be mapped to ids without the target's /etc/passwd.
 */
export function parseAclText(text: string): AclEntry[] | string {
  const entries: AclEntry[] = [];
  for (const raw of text.split(/[\n,]/)) {
    const line = raw.replace(/#.*$/, "").trim();
    if (line === "") continue;
    const fields = line.split(":");
    const [tagText, qualifier = "", permissionText = "", idText] = fields;
    const permissions = parsePermissions(permissionText);
    if (permissions === undefined) return `bad ACL entry "${line}"`;
    const named = qualifier !== "";
    const id = idText !== undefined && /^\d+$/.test(idText) ? Number(idText) : /^\d+$/.test(qualifier) ? Number(qualifier) : undefined;
    switch (tagText) {
      case "user":
      case "u":
        if (named && id === undefined) return `ACL entry "${line}" names user "${qualifier}" without a numeric id`;
        entries.push({ tag: named ? TAGS.namedUser : TAGS.user, permissions, id: named ? id! : UNDEFINED_ID });
        break;
      case "group":
      case "g":
        if (named && id === undefined) return `ACL entry "${line}" names group "${qualifier}" without a numeric id`;
        entries.push({ tag: named ? TAGS.namedGroup : TAGS.group, permissions, id: named ? id! : UNDEFINED_ID });
        break;
      case "mask":
      case "m":
        entries.push({ tag: TAGS.mask, permissions, id: UNDEFINED_ID });
        break;
      case "other":
      case "o":
        entries.push({ tag: TAGS.other, permissions, id: UNDEFINED_ID });
        break;
      default:
        return `bad ACL entry "${line}"`;
    }
  }
  return entries.sort((left, right) => left.tag - right.tag || left.id - right.id);
}

function parsePermissions(text: string): number | undefined {
  if (!/^[r-][w-][x-]$/.test(text)) return undefined;
  return (text[0] === "r" ? 4 : 0) | (text[1] === "w" ? 2 : 0) | (text[2] === "x" ? 1 : 0);
}

/** True for an ACL of only user::, group:: and other:: — it equals the mode bits and is not stored. */
export function isMinimalAcl(entries: readonly AclEntry[]): boolean {
  return entries.every((entry) => entry.tag === TAGS.user || entry.tag === TAGS.group || entry.tag === TAGS.other);
}

export function encodeAclXattr(entries: readonly AclEntry[]): Uint8Array {
  const out = new Uint8Array(4 + 8 * entries.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 2, true);
  entries.forEach((entry, index) => {
    view.setUint16(4 + 8 * index, entry.tag, true);
    view.setUint16(6 + 8 * index, entry.permissions, true);
    view.setUint32(8 + 8 * index, entry.id, true);
  });
  return out;
}
