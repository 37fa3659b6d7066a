#pragma once
// Filesystems other than the test's temporary folder, for the cases that differ across them:
// a folder under /dev/shm (a tmpfs on Linux), and a small tmpfs mounted for one test (root
// only, as CI runs; a test that needs it fails, never skips, without it).

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

namespace lipsyncd::test {

// A fresh folder under /dev/shm, checked to be on another filesystem than `base`, so a move
// from `base` into it must copy. Empty when /dev/shm cannot serve; the ADD_FAILURE says why.
inline std::filesystem::path folder_on_another_filesystem(const std::filesystem::path& base,
                                                          const std::string& name) {
  const std::filesystem::path shm = "/dev/shm";
  struct stat a {};
  struct stat b {};
  if (::stat(shm.c_str(), &a) != 0 || ::stat(base.c_str(), &b) != 0) {
    ADD_FAILURE() << "this test needs /dev/shm";
    return {};
  }
  if (a.st_dev == b.st_dev) {
    ADD_FAILURE() << "/dev/shm and the temp folder share a filesystem here";
    return {};
  }
  const auto target = shm / (name + "-" + std::to_string(::getpid()));
  std::filesystem::create_directories(target);
  return target;
}

// A tmpfs of `size` (mount's syntax, e.g. "4m") mounted on an existing folder for the
// object's lifetime.
class TmpfsMount {
 public:
  TmpfsMount(std::filesystem::path where, std::string size)
      : where_(std::move(where)), size_(std::move(size)) {
    mount();
  }
  ~TmpfsMount() { ::umount2(where_.c_str(), MNT_DETACH); }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;

  void mount() {
    ok_ = ::mount("lipsyncd-test", where_.c_str(), "tmpfs", 0, ("size=" + size_).c_str()) == 0;
    if (!ok_) error_ = std::strerror(errno);
  }
  bool unmount() { return ::umount2(where_.c_str(), 0) == 0; }
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }

 private:
  std::filesystem::path where_;
  std::string size_;
  bool ok_ = false;
  std::string error_;
};

}  // namespace lipsyncd::test
