#include "lipsyncd/core/durable_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <string>

#include "lipsyncd/core/disk_error.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/core/unique_fd.hpp"

namespace lipsyncd {
namespace {

[[noreturn]] void throw_file_error(std::string_view what, const std::filesystem::path& path,
                                   int code) {
  if (code == ENOENT) {
    throw Error(kFileVanishedReason, path.string() + " is gone: it was moved or deleted meanwhile",
                "nothing was lost by lipsyncd; if the file was wanted, put it back",
                Permanence::permanent);
  }
  throw_disk_error(what, path, code);
}

UniqueFd open_for_reading(const std::filesystem::path& source) {
  UniqueFd in(::open(source.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) throw_file_error("cannot open", source, errno);
  return in;
}

void copy_from(int in, const std::filesystem::path& source, AtomicFile& target) {
  std::array<char, 1 << 16> buffer{};
  for (;;) {
    const ssize_t got = ::read(in, buffer.data(), buffer.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      throw_disk_error("cannot read", source, errno);
    }
    if (got == 0) return;
    target.write(std::string_view(buffer.data(), static_cast<std::size_t>(got)));
  }
}

}  // namespace

void copy_contents(const std::filesystem::path& source, AtomicFile& target) {
  const UniqueFd in = open_for_reading(source);
  copy_from(in.get(), source, target);
}

void durable_copy(const std::filesystem::path& from, const std::filesystem::path& to) {
  const UniqueFd in = open_for_reading(from);
  struct stat info {};
  if (::fstat(in.get(), &info) != 0) throw_file_error("cannot look at", from, errno);
  AtomicFile copy(to);
  if (::fchmod(copy.fd(), info.st_mode & 07777) != 0) {
    throw_disk_error("cannot set the permissions of", copy.temporary_path(), errno);
  }
  copy_from(in.get(), from, copy);
  copy.commit();
}

MoveKind durable_move(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (::rename(from.c_str(), to.c_str()) == 0) {
    sync_directory(to.parent_path());
    if (from.parent_path() != to.parent_path()) sync_directory(from.parent_path());
    return MoveKind::renamed;
  }
  if (errno != EXDEV) throw_file_error("cannot move", from, errno);
  durable_copy(from, to);
  if (::unlink(from.c_str()) != 0 && errno != ENOENT) {
    throw_disk_error("copied but cannot remove the original", from, errno);
  }
  sync_directory(from.parent_path());
  return MoveKind::copied;
}

}  // namespace lipsyncd
