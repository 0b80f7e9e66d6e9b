# shellcheck shell=bash
# docker/lib.sh: staging a root filesystem for a FROM-scratch image out of
# files of this (Debian 12) machine. Sourced by docker/build.
#
# Every image here is FROM scratch: the program, the shared libraries ldd
# lists for it (from Debian's packages), busybox-static for a shell, and a
# few files of /etc. The layout is Debian's merged /usr (/bin, /sbin, /lib
# and /lib64 are links into /usr), so a path ldd prints resolves in the image
# as it does here. /usr/share/aurigraph-image/packages lists the Debian
# package (and version) of every file copied from the host.

# rootfs_init ROOT USER UID: an empty tree with the merged-/usr links, /etc
# (passwd, group, nsswitch, hosts), /tmp, and busybox with its applets
rootfs_init() {
  local root=$1 user=$2 uid=$3
  rm -rf "$root"
  mkdir -p "$root"/usr/bin "$root"/usr/sbin "$root"/usr/lib/x86_64-linux-gnu "$root"/usr/lib64 \
           "$root"/etc "$root"/tmp "$root"/var/tmp "$root"/proc "$root"/sys "$root"/dev \
           "$root"/usr/share/aurigraph-image "$root"/home
  ln -s usr/bin "$root"/bin
  ln -s usr/sbin "$root"/sbin
  ln -s usr/lib "$root"/lib
  ln -s usr/lib64 "$root"/lib64
  chmod 1777 "$root"/tmp "$root"/var/tmp
  cat >"$root"/etc/passwd <<EOF
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
$user:x:$uid:$uid:$user:/home/$user:/bin/sh
EOF
  cat >"$root"/etc/group <<EOF
root:x:0:
nogroup:x:65534:
$user:x:$uid:
EOF
  mkdir -p "$root/home/$user"
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root"/etc/nsswitch.conf
  printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >"$root"/etc/hosts
  mkdir -p "$root"/usr/local/bin "$root"/usr/local/share
  : >"$root"/usr/share/aurigraph-image/packages
  rootfs_copy "$root" /usr/bin/busybox
  local applet
  # every applet busybox has, as a link (sh, ls, ps, top, wget, nc, vi, ...)
  # where no real file of that name is copied
  for applet in $(/usr/bin/busybox --list); do
    [ "$applet" = busybox ] && continue
    [ -e "$root/usr/bin/$applet" ] || ln -s busybox "$root/usr/bin/$applet"
  done
}

# rootfs_index DIR: an index of dpkg's file lists and package versions in
# DIR, so the provenance list costs one grep per file (dpkg -S loads the
# whole database each time)
rootfs_index() {
  _rootfs_index=$1
  mkdir -p "$_rootfs_index"
  # "PACKAGE<TAB>PATH" for every file of every installed package
  for f in /var/lib/dpkg/info/*.list; do
    local pkg=${f##*/}; pkg=${pkg%.list}; pkg=${pkg%%:*}
    sed "s|^|$pkg\t|" "$f"
  done >"$_rootfs_index/files"
  dpkg-query -W -f='${Package}\t${Version}\n' >"$_rootfs_index/versions"
}

# the package that owns PATH, "name version" (or "-" for none)
_rootfs_pkg() {
  [ -n "${_rootfs_index:-}" ] || { echo "-"; return; }
  local p=
  # merged /usr: dpkg may know the file under /lib or under /usr/lib
  for cand in "$1" "${1#/usr}" "/usr$1"; do
    p=$(awk -F '\t' -v f="$cand" '$2 == f { print $1; exit }' "$_rootfs_index/files")
    [ -n "$p" ] && break
  done
  if [ -n "$p" ]; then
    echo "$p $(awk -F '\t' -v p="$p" '$1 == p { print $2; exit }' "$_rootfs_index/versions")"
  else
    echo "-"
  fi
}

# the image path of a host path (merged /usr)
_rootfs_dest() {
  case $1 in
    /bin/*|/sbin/*|/lib/*|/lib64/*) echo "/usr$1" ;;
    *) echo "$1" ;;
  esac
}

# rootfs_copy ROOT FILE [DEST]: FILE (dereferenced) into ROOT at DEST (its
# own path by default), with every shared library ldd lists for it
rootfs_copy() {
  local root=$1 file=$2 dest=${3:-}
  [ -n "$dest" ] || dest=$(_rootfs_dest "$file")
  [ -e "$file" ] || { echo "docker/lib.sh: $file not found" >&2; return 1; }
  mkdir -p "$root$(dirname "$dest")"
  cp -L --preserve=mode "$file" "$root$dest"
  printf '%s\t%s\n' "$dest" "$(_rootfs_pkg "$(readlink -f "$file")")" >>"$root"/usr/share/aurigraph-image/packages
  rootfs_libs "$root" "$file"
}

# rootfs_libs ROOT ELF...: the shared libraries of each ELF (ldd), and the
# dynamic loader; a static ELF needs none. Fails on a library ldd cannot find.
rootfs_libs() {
  local root=$1; shift
  local f out lib dest
  for f; do
    file -L "$f" 2>/dev/null | grep -q 'dynamically linked' || continue
    out=$(ldd "$f" 2>&1) || { echo "ldd $f: $out" >&2; return 1; }
    if grep -q 'not found' <<<"$out"; then
      echo "docker/lib.sh: $f needs libraries that are not installed:" >&2
      grep 'not found' <<<"$out" >&2
      return 1
    fi
    while read -r lib; do
      [ -n "$lib" ] || continue
      dest=$(_rootfs_dest "$lib")
      [ -e "$root$dest" ] && continue
      mkdir -p "$root$(dirname "$dest")"
      cp -L --preserve=mode "$lib" "$root$dest"
      printf '%s\t%s\n' "$dest" "$(_rootfs_pkg "$(readlink -f "$lib")")" >>"$root"/usr/share/aurigraph-image/packages
    done < <(awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' <<<"$out" | sort -u)
  done
}

# rootfs_size ROOT: bytes in the tree
rootfs_size() { du -sb "$1" | cut -f1; }
