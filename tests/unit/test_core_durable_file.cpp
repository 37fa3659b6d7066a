// core/durable_file: the one copy/move every folder transfer uses. Real failures are
// provoked rather than simulated: another filesystem (EXDEV), a full tmpfs (ENOSPC) and a
// process without permission (EACCES); after each, no partial destination is visible.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "lipsyncd/core/durable_file.hpp"
#include "lipsyncd/core/error.hpp"
#include "other_filesystems.hpp"
#include "test_media.hpp"

namespace lipsyncd {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

std::string pattern_bytes(std::size_t size) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 131 + 7) % 251);
  return bytes;
}

void write_bytes(const fs::path& file, const std::string& bytes) {
  std::ofstream(file, std::ios::binary) << bytes;
}

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Every name in `folder`, hidden temporaries included.
std::set<std::string> names_in(const fs::path& folder) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

mode_t mode_of(const fs::path& file) {
  struct stat info {};
  EXPECT_EQ(::stat(file.c_str(), &info), 0);
  return info.st_mode & 07777;
}

TEST(DurableFile, AMoveOnOneFilesystemIsARename) {
  TempDir dir;
  const auto bytes = pattern_bytes(100000);
  write_bytes(dir / "a.mp4", bytes);
  fs::create_directories(dir / "spool");
  EXPECT_EQ(durable_move(dir / "a.mp4", dir / "spool/a.mp4"), MoveKind::renamed);
  EXPECT_FALSE(fs::exists(dir / "a.mp4"));
  EXPECT_EQ(read_bytes(dir / "spool/a.mp4"), bytes);
}

TEST(DurableFile, AMoveAcrossFilesystemsCopiesKeepsThePermissionsAndRemovesTheSource) {
  TempDir dir;
  const auto other = test::folder_on_another_filesystem(dir.path(), "lipsyncd-durable-move");
  ASSERT_FALSE(other.empty());
  const auto bytes = pattern_bytes(3 << 20);
  write_bytes(dir / "a.wav", bytes);
  ::chmod((dir / "a.wav").c_str(), 0640);
  EXPECT_EQ(durable_move(dir / "a.wav", other / "a.wav"), MoveKind::copied);
  EXPECT_FALSE(fs::exists(dir / "a.wav"));
  EXPECT_EQ(read_bytes(other / "a.wav"), bytes);
  EXPECT_EQ(mode_of(other / "a.wav"), 0640u);
  EXPECT_EQ(names_in(other), std::set<std::string>{"a.wav"}) << "a temporary was left behind";
  fs::remove_all(other);
}

TEST(DurableFile, ACopyReplacesTheDestinationWholeAndKeepsTheSource) {
  TempDir dir;
  write_bytes(dir / "result.mp4", "old result");
  const auto bytes = pattern_bytes(200000);
  write_bytes(dir / "earlier.mp4", bytes);
  durable_copy(dir / "earlier.mp4", dir / "result.mp4");
  EXPECT_EQ(read_bytes(dir / "result.mp4"), bytes);
  EXPECT_EQ(read_bytes(dir / "earlier.mp4"), bytes);
  EXPECT_EQ(names_in(dir.path()), (std::set<std::string>{"earlier.mp4", "result.mp4"}));
}

TEST(DurableFile, AMissingSourceIsFileVanishedAndPermanent) {
  TempDir dir;
  for (const auto& attempt : {+[](const fs::path& d) { durable_move(d / "gone", d / "x"); },
                              +[](const fs::path& d) { durable_copy(d / "gone", d / "x"); }}) {
    try {
      attempt(dir.path());
      ADD_FAILURE() << "a missing source was moved";
    } catch (const Error& e) {
      EXPECT_EQ(e.reason_code(), kFileVanishedReason);
      EXPECT_FALSE(e.is_transient());
    }
    EXPECT_FALSE(fs::exists(dir / "x"));
  }
}

// ENOSPC: a 256 KiB tmpfs cannot hold a 1 MiB file. The move fails as disk_full (transient:
// the daemon waits for space), the source is untouched and nothing is left at the destination.
TEST(DurableFile, AFullDiskFailsAsDiskFullAndLeavesNoPartialFile) {
  TempDir dir;
  fs::create_directories(dir / "small");
  test::TmpfsMount small(dir / "small", "256k");
  ASSERT_TRUE(small.ok()) << "cannot mount a tmpfs (needs root, as CI has): " << small.error();
  const auto bytes = pattern_bytes(1 << 20);
  write_bytes(dir / "big.mp4", bytes);
  try {
    durable_move(dir / "big.mp4", dir / "small/big.mp4");
    ADD_FAILURE() << "1 MiB fitted into 256 KiB";
  } catch (const Error& e) {
    EXPECT_EQ(e.reason_code(), "disk_full") << e.what();
    EXPECT_TRUE(e.is_transient());
  }
  EXPECT_EQ(read_bytes(dir / "big.mp4"), bytes);
  EXPECT_TRUE(names_in(dir / "small").empty()) << "a partial file or temporary is left";
}

// EACCES: root may write anywhere, so the move runs in a child that has become `nobody`.
// The child reports the reason code it got through its exit status.
TEST(DurableFile, NoPermissionFailsAsDiskErrorAndLeavesNoPartialFile) {
  TempDir dir;
  fs::create_directories(dir / "locked");
  ::chmod((dir / "locked").c_str(), 0755);  // root's, not writable for others
  ::chmod(dir.path().c_str(), 0777);
  write_bytes(dir / "a.mp4", pattern_bytes(50000));
  ::chmod((dir / "a.mp4").c_str(), 0644);
  ASSERT_EQ(::geteuid(), 0u) << "this test drops to `nobody` and needs root, as CI has";
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(10);
    try {
      durable_copy(dir / "a.mp4", dir / "locked/a.mp4");
      ::_exit(11);
    } catch (const Error& e) {
      const bool denied = std::string(e.what()).find("Permission denied") != std::string::npos;
      ::_exit(e.reason_code() == "disk_error" && e.is_transient() && denied ? 0 : 12);
    } catch (...) {
      ::_exit(13);
    }
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: cannot become nobody, 11: copied without permission, "
                                       "12: another error than disk_error/EACCES, 13: not an Error";
  EXPECT_TRUE(names_in(dir / "locked").empty());
}

// While a large file is copied across filesystems, its name is either absent or complete:
// a reader polling the folder never sees it short.
TEST(DurableFile, ACopyAcrossFilesystemsIsNeverVisibleHalfWritten) {
  TempDir dir;
  const auto other = test::folder_on_another_filesystem(dir.path(), "lipsyncd-durable-watch");
  ASSERT_FALSE(other.empty());
  const auto bytes = pattern_bytes(48 << 20);
  write_bytes(dir / "big.mp4", bytes);
  std::atomic<bool> done{false};
  std::vector<std::uintmax_t> sizes_seen;
  std::thread watcher([&] {
    while (!done) {
      std::error_code ec;
      const auto size = fs::file_size(other / "big.mp4", ec);
      if (!ec) sizes_seen.push_back(size);
    }
  });
  durable_move(dir / "big.mp4", other / "big.mp4");
  done = true;
  watcher.join();
  for (const auto size : sizes_seen) EXPECT_EQ(size, bytes.size());
  EXPECT_EQ(read_bytes(other / "big.mp4"), bytes);
  fs::remove_all(other);
}

}  // namespace
}  // namespace lipsyncd
