#!/usr/bin/env bash
# The Debian package end to end (issue 16): builds it from this build tree with CPack, runs
# lintian (errors fail; so does a warning that packaging/deb/lintian-warnings.txt does not
# explain), checks its contents, then installs it on this machine with dpkg -i, checks that the
# files land where the unit expects them and that the installed program works (version, a
# real `check`, `status` as the service user, `systemd-analyze verify` on the installed unit),
# that an edited conffile survives a reinstall, that `dpkg -r` leaves only the configuration
# and the state, and that `dpkg --purge` leaves nothing.
#
# Installs system-wide, so it needs root and refuses to touch a machine where lipsyncd is
# installed already; ctest runs it under RESOURCE_LOCK system_install. A throwaway root
# (dpkg --root, debootstrap) cannot run the maintainer scripts (systemd-sysusers,
# systemd-tmpfiles, deb-systemd-helper) without a whole Debian inside it.
#
# usage: deb_install_test.sh BUILD_DIR SOURCE_DIR MEDIA_DIR VERSION
set -uo pipefail

build_dir=$1 source_dir=$2 media_dir=$3 version=$4
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
check() {  # check DESCRIPTION COMMAND...: runs the command, a failure is recorded
  local what=$1
  shift
  if ! "$@"; then fail "$what"; fi
}
die() {
  echo "FAIL: $*" >&2
  exit 1
}

[[ $(id -u) -eq 0 ]] || die "needs root: it installs the package with dpkg (CI runs as root)"
if dpkg-query -W -f='${Status}' lipsyncd 2>/dev/null | grep -q 'installed\|config-files'; then
  die "the lipsyncd package is installed on this machine; this test would purge it"
fi
for path in /etc/lipsyncd /srv/lipsyncd /var/lib/lipsyncd /usr/bin/lipsyncd; do
  [[ -e $path ]] && die "$path exists: this test installs and purges lipsyncd system-wide and will not touch it"
done

work=$(mktemp -d /tmp/lipsyncd-package-test.XXXXXX)
user_existed=false
getent passwd lipsyncd >/dev/null && user_existed=true
group_existed=false
getent group lipsyncd >/dev/null && group_existed=true
cleanup() {
  # Whatever happened, the machine is left as it was found.
  if dpkg-query -W -f='${Status}' lipsyncd 2>/dev/null | grep -q 'installed\|config-files\|half'; then
    dpkg --purge lipsyncd >/dev/null 2>&1 || true
  fi
  # None of these existed when the test began (checked above).
  rm -rf /etc/lipsyncd /srv/lipsyncd /var/lib/lipsyncd
  [[ $user_existed == false ]] && getent passwd lipsyncd >/dev/null && userdel lipsyncd 2>/dev/null
  [[ $group_existed == false ]] && getent group lipsyncd >/dev/null && groupdel lipsyncd 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# ── build ───────────────────────────────────────────────────────────────────────────────────
echo "== cpack"
if ! cpack --config "$build_dir/CPackConfig.cmake" -B "$work/package" >"$work/cpack.log" 2>&1; then
  cat "$work/cpack.log" >&2
  die "cpack failed"
fi
deb=$(ls "$work"/package/lipsyncd_*.deb 2>/dev/null | head -1)
[[ -n $deb ]] || { cat "$work/cpack.log" >&2; die "cpack made no lipsyncd_*.deb"; }
echo "built $(basename "$deb")"
arch=$(dpkg --print-architecture)
[[ $(basename "$deb") == lipsyncd_${version}-*_${arch}.deb ]] || fail "unexpected file name $(basename "$deb")"

# ── lintian ─────────────────────────────────────────────────────────────────────────────────
echo "== lintian"
lintian --display-level '>=warning' --tag-display-limit 0 "$deb" >"$work/lintian.log" 2>&1
lintian_status=$?
cat "$work/lintian.log"
grep -q '^E: ' "$work/lintian.log" && fail "lintian reports errors"
if ((lintian_status != 0)) && ! grep -q '^E: ' "$work/lintian.log"; then
  fail "lintian itself failed (exit $lintian_status)"
fi
explained=$source_dir/packaging/deb/lintian-warnings.txt
while IFS= read -r line; do
  tag=$(awk '{print $3}' <<<"$line")
  grep -q "^$tag " "$explained" || fail "lintian warning $tag is not explained in packaging/deb/lintian-warnings.txt"
done < <(grep '^W: ' "$work/lintian.log")

# ── contents ────────────────────────────────────────────────────────────────────────────────
echo "== contents"
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|; s|/$||' | grep -v '^$' | sort >"$work/contents"
cat >"$work/expected" <<LIST
/etc
/etc/lipsyncd
/etc/lipsyncd/lipsyncd.toml
/lib
/lib/systemd
/lib/systemd/system
/lib/systemd/system/lipsyncd.service
/usr
/usr/bin
/usr/bin/lipsyncd
/usr/lib
/usr/lib/sysusers.d
/usr/lib/sysusers.d/lipsyncd.conf
/usr/lib/tmpfiles.d
/usr/lib/tmpfiles.d/lipsyncd.conf
/usr/share
/usr/share/bash-completion
/usr/share/bash-completion/completions
/usr/share/bash-completion/completions/lipsyncd
/usr/share/doc
/usr/share/doc/lipsyncd
/usr/share/doc/lipsyncd/changelog.Debian.gz
/usr/share/doc/lipsyncd/copyright
/usr/share/man
/usr/share/man/man5
/usr/share/man/man5/lipsyncd.toml.5.gz
/usr/share/man/man8
/usr/share/man/man8/lipsyncd.8.gz
LIST
sort -o "$work/expected" "$work/expected"
# Exactly these: the daemon and its files, no emulator, no test program, no benchmark.
check "package contents differ from the expected list" diff -u "$work/expected" "$work/contents"
dpkg-deb -I "$deb" control >"$work/control"
cat "$work/control"
depends=$(sed -n 's/^Depends: //p' "$work/control")
for library in libavformat libavcodec libopencv-objdetect libssl libsqlite3 libsystemd0 opencv-data systemd; do
  [[ $depends == *"$library"* ]] || fail "Depends lacks $library (dpkg-shlibdeps or CPACK_DEBIAN_PACKAGE_DEPENDS)"
done
[[ $depends == *-dev* ]] && fail "Depends names a -dev package: $depends"
dpkg-deb -I "$deb" conffiles | grep -qx /etc/lipsyncd/lipsyncd.toml || fail "the configuration is not a conffile"

# ── install ─────────────────────────────────────────────────────────────────────────────────
snapshot() {  # every path under the folders a package may touch, minus dpkg's and apt's books
  find /etc /usr /lib /srv /var/lib /opt -xdev 2>/dev/null |
    grep -v -e '^/var/lib/dpkg' -e '^/var/lib/apt' -e '^/var/lib/ucf' -e '^/etc/ld.so.cache$' \
      -e '^/etc/\(passwd\|group\|shadow\|gshadow\)-$' -e '^/var/lib/man-db' | sort
}
snapshot >"$work/before"

echo "== dpkg -i"
dpkg -i "$deb" >"$work/install.log" 2>&1 || { cat "$work/install.log" >&2; die "dpkg -i failed"; }
cat "$work/install.log"

unit=/lib/systemd/system/lipsyncd.service
[[ -f $unit ]] || die "no unit at $unit"
unit_value() { sed -n "s/^$1=//p" "$unit" | head -1; }
exec_start=$(unit_value ExecStart)
binary=${exec_start%% *}
config=$(sed -n 's/.*--config \([^ ]*\).*/\1/p' <<<"$exec_start")
[[ $binary == /usr/bin/lipsyncd ]] || fail "ExecStart runs $binary, not /usr/bin/lipsyncd"
check "ExecStart's binary $binary is not an executable file" test -x "$binary"
check "ExecStart's configuration $config is missing" test -f "$config"
check "the configuration is not readable by the service user" runuser -u lipsyncd -- test -r "$config"
credential=$(unit_value LoadCredential)
check "LoadCredential's folder ${credential#*:} is missing" test -d "$(dirname "${credential#*:}")"
check "the unit's User= lipsyncd does not exist" getent passwd "$(unit_value User)"
check "the unit's Group= lipsyncd does not exist" getent group "$(unit_value Group)"
for folder in $(unit_value ReadWritePaths) /srv/lipsyncd/{inbox,outbox,done,error}; do
  [[ $(stat -c '%a %U %G' "$folder" 2>/dev/null) == "2770 lipsyncd lipsyncd" ]] ||
    fail "$folder is not 2770 lipsyncd:lipsyncd: $(stat -c '%a %U %G' "$folder" 2>&1)"
done
grep -q "inbox = \"/srv/lipsyncd/inbox\"" "$config" || fail "the configuration's inbox is not /srv/lipsyncd/inbox"
grep -q "state = \"/var/lib/lipsyncd\"" "$config" || fail "the configuration's state is not /var/lib/lipsyncd (StateDirectory=lipsyncd)"
[[ $(unit_value StateDirectory) == lipsyncd ]] || fail "StateDirectory is not lipsyncd"
check "the unit is not enabled" test -L /etc/systemd/system/multi-user.target.wants/lipsyncd.service
check "systemd-analyze verify rejects the installed unit" systemd-analyze verify "$unit"
systemd-analyze verify "$unit" 2>&1 | grep lipsyncd && fail "systemd-analyze verify complains about the installed unit"
check "man does not find lipsyncd(8)" man -w 8 lipsyncd
check "man does not find lipsyncd.toml(5)" man -w 5 lipsyncd.toml
for page in /usr/share/man/man8/lipsyncd.8.gz /usr/share/man/man5/lipsyncd.toml.5.gz; do
  warnings=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)
  [[ -z $warnings ]] || fail "man reports warnings for $page: $warnings"
done
check "the bash completion does not register for lipsyncd" \
  bash -c 'source /usr/share/bash-completion/completions/lipsyncd && complete -p lipsyncd | grep -q _lipsyncd'

echo "== lipsyncd version"
got=$(/usr/bin/lipsyncd version)
echo "$got"
[[ $got == "lipsyncd $version" ]] || fail "lipsyncd version printed '$got', not 'lipsyncd $version'"

echo "== lipsyncd check (as the service user, with the installed configuration)"
# The media may sit in a folder the service user cannot enter: it gets its own copy in /tmp.
mkdir -p "$work/media"
cp "$media_dir/real_talk_monalisa_720p.mp4" "$media_dir/real_speech_16k.wav" "$work/media/" ||
  die "the test media is missing in $media_dir"
chmod 755 "$work" "$work/media"
chmod 644 "$work"/media/*
runuser -u lipsyncd -- /usr/bin/lipsyncd check --json --config "$config" \
  "$work/media/real_talk_monalisa_720p.mp4" "$work/media/real_speech_16k.wav" >"$work/check.json" 2>"$work/check.err"
check_status=$?
cat "$work/check.json" "$work/check.err"
((check_status == 0)) || fail "lipsyncd check exited $check_status"
grep -q '"verdict":"accept"' "$work/check.json" || fail "check did not accept the Mona Lisa pair"
grep -q '"sync_mode":"cut_off"' "$work/check.json" || fail "check did not choose cut_off for the Mona Lisa pair"

echo "== lipsyncd status (as the service user, in the state folder systemd would create)"
install -d -o lipsyncd -g lipsyncd -m 0700 /var/lib/lipsyncd  # what StateDirectory=lipsyncd does
runuser -u lipsyncd -- /usr/bin/lipsyncd status --config "$config" || fail "lipsyncd status failed"
check "status made no job store in /var/lib/lipsyncd" test -f /var/lib/lipsyncd/jobs.sqlite3

echo "== reinstall keeps an edited conffile"
sed -i 's/^level = "info"/level = "debug"/' "$config"
dpkg -i "$deb" >"$work/reinstall.log" 2>&1 || { cat "$work/reinstall.log" >&2; fail "reinstall failed"; }
grep -q '^level = "debug"' "$config" || fail "a reinstall replaced the edited $config"

# ── remove, purge ───────────────────────────────────────────────────────────────────────────
leftovers() { comm -13 "$work/before" <(snapshot); }
# What an operator and the people using the service leave: the key, and a result nobody
# collected. Removing the package must never delete the second.
printf 'test-key\n' | install -m 0600 /dev/stdin /etc/lipsyncd/fal_key
printf 'a result\n' >/srv/lipsyncd/outbox/kept.mp4

echo "== dpkg -r"
dpkg -r lipsyncd >"$work/remove.log" 2>&1 || { cat "$work/remove.log" >&2; fail "dpkg -r failed"; }
leftovers | tee "$work/after-remove"
# What a plain remove keeps, as Debian's debhelper packages do: the configuration (the conffile,
# the key, and systemd's record that the service was enabled, so a reinstall keeps the choice),
# the job store with its paid results, and the shared folder that still holds a file. Nothing
# else: no program, unit, snippet, page, or empty shared folder.
allowed_after_remove='^(/etc/lipsyncd|/etc/lipsyncd/lipsyncd.toml|/etc/lipsyncd/fal_key|/srv/lipsyncd|/srv/lipsyncd/outbox|/srv/lipsyncd/outbox/kept.mp4|/var/lib/lipsyncd(/.*)?|/etc/systemd/system/lipsyncd.service|/etc/systemd/system/multi-user.target.wants(/lipsyncd.service)?|/var/lib/systemd/deb-systemd-helper-(enabled|masked)(/.*lipsyncd.*)?)$'
grep -Ev "$allowed_after_remove" "$work/after-remove" | sed 's/^/  /' >"$work/unexpected"
[[ -s $work/unexpected ]] && fail "dpkg -r left these behind: $(cat "$work/unexpected")"
grep -qx /etc/lipsyncd/lipsyncd.toml "$work/after-remove" || fail "dpkg -r removed the conffile"
check "dpkg -r removed the job store (only purge may)" test -f /var/lib/lipsyncd/jobs.sqlite3
check "dpkg -r left /usr/bin/lipsyncd" test ! -e /usr/bin/lipsyncd

echo "== dpkg --purge"
dpkg --purge lipsyncd >"$work/purge.log" 2>&1 || { cat "$work/purge.log" >&2; fail "dpkg --purge failed"; }
leftovers | tee "$work/after-purge"
# Only the uncollected result and the folders holding it; then nothing once it is gone.
printf '%s\n' /srv/lipsyncd /srv/lipsyncd/outbox /srv/lipsyncd/outbox/kept.mp4 >"$work/kept"
check "dpkg --purge left more (or less) than the uncollected result" \
  diff -u "$work/kept" "$work/after-purge"
rm -rf /srv/lipsyncd
leftovers >"$work/after-purge"
[[ -s $work/after-purge ]] && fail "dpkg --purge left files behind: $(tr '\n' ' ' <"$work/after-purge")"
dpkg-query -W -f='${Status}' lipsyncd 2>/dev/null | grep -q 'installed\|config-files' &&
  fail "dpkg still knows lipsyncd after the purge"

if ((failures > 0)); then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "package test passed"
