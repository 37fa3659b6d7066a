#include "lipsyncd/core/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <string>

#include "lipsyncd/core/disk_error.hpp"
#include "lipsyncd/core/file_name.hpp"

namespace lipsyncd {
namespace {

[[noreturn]] void throw_disk_error(std::string_view what, const std::filesystem::path& path) {
  lipsyncd::throw_disk_error(what, path, errno);
}

std::filesystem::path temporary_name_for(const std::filesystem::path& destination) {
  // A hidden name in the same directory: the rename stays atomic and watchers that ignore
  // dot-files never pick up the unfinished file.
  std::random_device entropy;
  return destination.parent_path() /
         hidden_temporary_name(destination.filename().string(),
                               "." + std::to_string(entropy()) + ".tmp");
}

}  // namespace

AtomicFile::AtomicFile(std::filesystem::path destination)
    : destination_(std::move(destination)), temporary_(temporary_name_for(destination_)) {
  fd_.reset(::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd_.valid()) throw_disk_error("cannot create", temporary_);
}

AtomicFile::~AtomicFile() {
  if (!committed_) {
    std::error_code ignored;  // best effort: the destructor must not throw
    std::filesystem::remove(temporary_, ignored);
  }
}

void AtomicFile::write(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t written = ::write(fd_.get(), bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      throw_disk_error("cannot write", temporary_);
    }
    bytes.remove_prefix(static_cast<size_t>(written));
  }
}

void AtomicFile::sync() {
  if (::fsync(fd_.get()) != 0) throw_disk_error("cannot flush", temporary_);
}

void AtomicFile::commit() {
  sync();
  fd_.reset();
  if (::rename(temporary_.c_str(), destination_.c_str()) != 0) {
    throw_disk_error("cannot rename into place", destination_);
  }
  committed_ = true;
  sync_directory(destination_.parent_path());
}

void write_file_atomically(const std::filesystem::path& destination, std::string_view bytes) {
  AtomicFile file(destination);
  file.write(bytes);
  file.commit();
}

void sync_directory(const std::filesystem::path& directory) {
  const auto path = directory.empty() ? std::filesystem::path(".") : directory;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid() || ::fsync(fd.get()) != 0) throw_disk_error("cannot sync directory", path);
}

}  // namespace lipsyncd
