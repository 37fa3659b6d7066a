// Removing the folders a folder job leaves behind: only the ones the moved files emptied, from
// the deepest up to the job's folder, never a folder that still holds anything.

#include <gtest/gtest.h>

#include <fstream>

#include "lipsyncd/intake/folder_cleanup.hpp"
#include "test_media.hpp"

namespace lipsyncd::intake {
namespace {

namespace fs = std::filesystem;

class FolderCleanupTest : public testing::Test {
 protected:
  FolderCleanupTest() { fs::create_directories(inbox()); }
  fs::path inbox() const { return dir_ / "inbox"; }
  // Creates the file, then "moves it away" as a claim does.
  fs::path moved(const fs::path& file) {
    fs::create_directories(file.parent_path());
    std::ofstream(file) << "x";
    fs::remove(file);
    return file;
  }
  test::TempDir dir_;
};

TEST_F(FolderCleanupTest, NestedFoldersEmptiedByTheMoveAreRemovedUpToTheJobFolder) {
  const auto job = inbox() / "take 1";
  const std::vector<fs::path> files = {moved(job / "cam" / "raw" / "v.mp4"),
                                       moved(job / "mic" / "a.wav"), moved(job / "job.json")};
  remove_emptied_folders(job, files);
  EXPECT_FALSE(fs::exists(job));
  EXPECT_TRUE(fs::is_directory(inbox()));  // never above the job's folder
  EXPECT_TRUE(fs::is_empty(inbox()));
}

TEST_F(FolderCleanupTest, AFolderThatStillHoldsSomethingStaysWithEverythingAboveIt) {
  const auto job = inbox() / "take";
  const auto video = moved(job / "sub" / "v.mp4");
  std::ofstream(job / "sub" / "still-arriving.wav") << "x";  // a writer still at work
  fs::create_directories(job / "empty-but-not-ours");
  remove_emptied_folders(job, {video});
  EXPECT_TRUE(fs::exists(job / "sub" / "still-arriving.wav"));
  EXPECT_TRUE(fs::is_directory(job / "empty-but-not-ours"));  // not an ancestor of a moved file
}

TEST_F(FolderCleanupTest, NothingHappensOutsideAFolderJob) {
  fs::create_directories(inbox() / "elsewhere");
  const auto loose = moved(inbox() / "elsewhere" / "clip.mp4");
  remove_emptied_folders({}, {loose});  // a same-stem job: no folder
  EXPECT_TRUE(fs::is_directory(inbox() / "elsewhere"));
  remove_emptied_folders(inbox() / "take", {loose});  // a file outside the job's folder
  EXPECT_TRUE(fs::is_directory(inbox() / "elsewhere"));
}

}  // namespace
}  // namespace lipsyncd::intake
