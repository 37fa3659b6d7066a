#include "file_mover.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "lipsyncd/core/atomic_file.hpp"
#include "lipsyncd/core/disk_error.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/core/file_name.hpp"
#include "lipsyncd/core/unique_fd.hpp"

namespace lipsyncd::spool {
namespace {

[[noreturn]] void throw_move_error(const std::string& what, const std::filesystem::path& path,
                                   int code) {
  if (code == ENOENT) {
    throw Error("input_vanished", path.string() + " disappeared before it could be claimed",
                "the file was moved or deleted while lipsyncd took it; drop it again",
                Permanence::permanent);
  }
  throw_disk_error(what, path, code, "check the permissions of the inbox and the state folder");
}

void copy_contents(int from_fd, int to_fd, const std::filesystem::path& to) {
  std::vector<char> buffer(1 << 20);
  for (;;) {
    const ssize_t got = ::read(from_fd, buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw_move_error("cannot read while copying to", to, errno);
    if (got == 0) return;
    std::size_t offset = 0;
    while (offset < static_cast<std::size_t>(got)) {
      const ssize_t put =
          ::write(to_fd, buffer.data() + offset, static_cast<std::size_t>(got) - offset);
      if (put < 0 && errno == EINTR) continue;
      if (put < 0) throw_move_error("cannot write", to, errno);
      offset += static_cast<std::size_t>(put);
    }
  }
}

void copy_then_unlink(const std::filesystem::path& from, const std::filesystem::path& to) {
  UniqueFd source(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (!source.valid()) throw_move_error("cannot open", from, errno);
  struct stat info {};
  if (::fstat(source.get(), &info) != 0) throw_move_error("cannot stat", from, errno);

  const auto temporary =
      to.parent_path() / hidden_temporary_name(to.filename().string(), ".partial");
  UniqueFd target(
      ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, info.st_mode & 0777));
  if (!target.valid()) throw_move_error("cannot create", temporary, errno);
  try {
    copy_contents(source.get(), target.get(), temporary);
    if (::fsync(target.get()) != 0) throw_move_error("cannot flush", temporary, errno);
    target.reset();
    if (::rename(temporary.c_str(), to.c_str()) != 0) {
      throw_move_error("cannot rename into place", to, errno);
    }
  } catch (...) {
    ::unlink(temporary.c_str());
    throw;
  }
  sync_directory(to.parent_path());
  if (::unlink(from.c_str()) != 0 && errno != ENOENT) {
    throw_move_error("copied but cannot remove the original", from, errno);
  }
}

}  // namespace

MoveKind move_file_durably(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (::rename(from.c_str(), to.c_str()) == 0) return MoveKind::renamed;
  if (errno != EXDEV) throw_move_error("cannot move", from, errno);
  copy_then_unlink(from, to);
  return MoveKind::copied;
}

}  // namespace lipsyncd::spool
