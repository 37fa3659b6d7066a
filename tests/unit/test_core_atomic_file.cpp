#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "lipsyncd/core/atomic_file.hpp"
#include "lipsyncd/core/error.hpp"
#include "test_media.hpp"

namespace lipsyncd {
namespace {

std::string slurp(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(AtomicFile, DestinationAppearsOnlyAfterCommit) {
  test::TempDir dir;
  const auto destination = dir / "result.json";
  AtomicFile file(destination);
  file.write("{\"ok\":");
  EXPECT_FALSE(std::filesystem::exists(destination));
  file.write("true}");
  file.commit();
  EXPECT_EQ(slurp(destination), "{\"ok\":true}");
  EXPECT_FALSE(std::filesystem::exists(file.temporary_path()));
}

TEST(AtomicFile, AbandonedFileLeavesNothingBehind) {
  test::TempDir dir;
  std::filesystem::path temporary;
  {
    AtomicFile file(dir / "out.mp4");
    temporary = file.temporary_path();
    file.write("half a video");
    EXPECT_TRUE(std::filesystem::exists(temporary));
  }
  EXPECT_FALSE(std::filesystem::exists(temporary));
  EXPECT_FALSE(std::filesystem::exists(dir / "out.mp4"));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(AtomicFile, TemporaryNameIsHiddenInTheSameFolder) {
  test::TempDir dir;
  AtomicFile file(dir / "clip.lipsync.mp4");
  EXPECT_EQ(file.temporary_path().parent_path(), dir.path());
  EXPECT_EQ(file.temporary_path().filename().string().front(), '.');
}

TEST(AtomicFile, ReplacesAnExistingFileWhole) {
  test::TempDir dir;
  write_file_atomically(dir / "a.txt", "old contents");
  write_file_atomically(dir / "a.txt", "new");
  EXPECT_EQ(slurp(dir / "a.txt"), "new");
}

TEST(AtomicFile, MissingFolderIsAnActionableError) {
  test::TempDir dir;
  try {
    AtomicFile file(dir / "no-such-folder" / "x");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.reason_code(), "disk_error");
    EXPECT_NE(std::string(e.what()).find("no-such-folder"), std::string::npos);
  }
}

}  // namespace
}  // namespace lipsyncd
