#pragma once
// A file that others may read appears complete or not at all: data goes to a temporary file
// beside the destination, and commit() fsyncs it, renames it into place and fsyncs the
// directory. The destructor deliberately does not commit, so an exception or a crash can
// never leave a half-written destination; it removes the temporary file instead.

#include <filesystem>
#include <string_view>

#include "lipsyncd/core/unique_fd.hpp"

namespace lipsyncd {

class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path destination);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  // Where to write when a library wants a path rather than write() calls (e.g. libav muxers).
  const std::filesystem::path& temporary_path() const noexcept { return temporary_; }
  const std::filesystem::path& destination() const noexcept { return destination_; }
  int fd() const noexcept { return fd_.get(); }

  void write(std::string_view bytes);
  // The data on disk, not yet in place: for callers that publish the temporary themselves
  // (link() where a rename would replace a name). commit() does this too.
  void sync();
  // Throws lipsyncd::Error (transient, reason "disk_error") when the data cannot be made durable.
  void commit();

 private:
  std::filesystem::path destination_;
  std::filesystem::path temporary_;
  UniqueFd fd_;
  bool committed_ = false;
};

// Whole-file convenience for small files (sidecars, error reports).
void write_file_atomically(const std::filesystem::path& destination, std::string_view bytes);

// fsync a directory so a rename or a new entry in it survives a power cut.
void sync_directory(const std::filesystem::path& directory);

}  // namespace lipsyncd
