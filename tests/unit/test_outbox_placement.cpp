#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "lipsyncd/outbox/placement.hpp"
#include "other_filesystems.hpp"
#include "test_media.hpp"

namespace lipsyncd::outbox {
namespace {

using test::TempDir;

void write(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

using test::read_text;

TEST(OutboxFileMover, NumberedNamesKeepTheFinalExtension) {
  EXPECT_EQ(numbered_name("clip.lipsync.mp4", 1), "clip.lipsync.mp4");
  EXPECT_EQ(numbered_name("clip.lipsync.mp4", 2), "clip.lipsync-2.mp4");
  EXPECT_EQ(numbered_name("clip.wav", 3), "clip-3.wav");
  EXPECT_EQ(numbered_name("README", 2), "README-2");
  EXPECT_EQ(numbered_name(".hidden", 2), ".hidden-2");
  EXPECT_EQ(numbered_name("über clip.mp4", 2), "über clip-2.mp4");
}

TEST(OutboxFileMover, MoveNeverOverwritesAnotherFile) {
  TempDir dir;
  write(dir / "out/clip.mp4", "someone else's");
  write(dir / "spool/clip.mp4", "mine");
  const auto moved = move_into(dir / "spool/clip.mp4", dir / "out", "clip.mp4");
  EXPECT_EQ(moved.destination, dir / "out/clip-2.mp4");
  EXPECT_FALSE(moved.crossed_filesystems);
  EXPECT_EQ(read_text(dir / "out/clip.mp4"), "someone else's");
  EXPECT_EQ(read_text(dir / "out/clip-2.mp4"), "mine");
  EXPECT_FALSE(std::filesystem::exists(dir / "spool/clip.mp4"));
}

TEST(OutboxFileMover, PlacingTwiceAfterACrashFindsTheFirstPlacement) {
  TempDir dir;
  write(dir / "spool/result.mp4", "video bytes");
  const auto first = place_into(dir / "spool/result.mp4", dir / "out", "clip.lipsync.mp4");
  const auto second = place_into(dir / "spool/result.mp4", dir / "out", "clip.lipsync.mp4");
  EXPECT_EQ(first.destination, second.destination);
  EXPECT_FALSE(std::filesystem::exists(dir / "out/clip.lipsync-2.mp4"));
  EXPECT_TRUE(std::filesystem::exists(dir / "spool/result.mp4"));  // place keeps the source
}

TEST(OutboxFileMover, UnusedPathSkipsTakenNames) {
  TempDir dir;
  write(dir / "a.json", "1");
  write(dir / "a-2.json", "2");
  EXPECT_EQ(unused_path(dir.path(), "a.json"), dir / "a-3.json");
  EXPECT_EQ(unused_path(dir.path(), "b.json"), dir / "b.json");
}

TEST(OutboxFileMover, CrossFilesystemMoveCopiesAndSaysSo) {
  TempDir dir;
  const auto target = test::folder_on_another_filesystem(dir.path(), "lipsyncd-mover");
  ASSERT_FALSE(target.empty());
  write(dir / "in.bin", std::string(300000, 'x'));
  const auto moved = move_into(dir / "in.bin", target, "in.bin");
  EXPECT_TRUE(moved.crossed_filesystems);
  EXPECT_EQ(read_text(target / "in.bin"), std::string(300000, 'x'));
  EXPECT_FALSE(std::filesystem::exists(dir / "in.bin"));
  // No temporary file is left behind.
  size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(target)) ++entries;
  EXPECT_EQ(entries, 1u);
  std::filesystem::remove_all(target);
}

TEST(OutboxFileMover, AFifoIsMovedAcrossFilesystemsAsAFifoWithoutBeingOpened) {
  // A rejected FIFO from the inbox: opening it to copy would wait for a writer forever.
  TempDir dir;
  const auto target = test::folder_on_another_filesystem(dir.path(), "lipsyncd-fifo");
  ASSERT_FALSE(target.empty());
  ASSERT_EQ(::mkfifo((dir / "pipe.mp4").c_str(), 0640), 0);
  const auto moved = move_into(dir / "pipe.mp4", target, "pipe.mp4");
  EXPECT_TRUE(moved.crossed_filesystems);
  struct stat placed {};
  ASSERT_EQ(::lstat((target / "pipe.mp4").c_str(), &placed), 0);
  EXPECT_TRUE(S_ISFIFO(placed.st_mode));
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(dir / "pipe.mp4")));
  std::filesystem::remove_all(target);
}

TEST(OutboxFileMover, SameContentsComparesBytes) {
  TempDir dir;
  write(dir / "a", "hello");
  write(dir / "b", "hello");
  write(dir / "c", "hellO");
  EXPECT_TRUE(same_contents(dir / "a", dir / "b"));
  EXPECT_FALSE(same_contents(dir / "a", dir / "c"));
  EXPECT_FALSE(same_contents(dir / "a", dir / "missing"));
}

TEST(OutboxFileMover, AGroupTakesOneCommonNumberWhenAnyOfItsNamesIsTaken) {
  TempDir dir;
  write(dir / "out/clip.lipsync.json", "another job's sidecar");
  write(dir / "spool/result.mp4", "video");
  write(dir / "spool/result.json", "sidecar");
  const auto placed = place_together({{dir / "spool/result.mp4", "clip.lipsync.mp4"},
                                      {dir / "spool/result.json", "clip.lipsync.json"}},
                                     dir / "out");
  ASSERT_EQ(placed.destinations.size(), 2u);
  EXPECT_EQ(placed.destinations[0], dir / "out/clip.lipsync-2.mp4");
  EXPECT_EQ(placed.destinations[1], dir / "out/clip.lipsync-2.json");
  EXPECT_FALSE(std::filesystem::exists(dir / "out/clip.lipsync.mp4"));
  EXPECT_EQ(read_text(dir / "out/clip.lipsync.json"), "another job's sidecar");
}

TEST(OutboxFileMover, AGroupInterruptedHalfwayIsCompletedUnderTheSameNumber) {
  TempDir dir;
  write(dir / "spool/result.mp4", "video");
  write(dir / "spool/result.json", "sidecar");
  // A crash after the video was linked, before the sidecar.
  place_into(dir / "spool/result.mp4", dir / "out", "clip.lipsync.mp4");
  const auto placed = place_together({{dir / "spool/result.mp4", "clip.lipsync.mp4"},
                                      {dir / "spool/result.json", "clip.lipsync.json"}},
                                     dir / "out");
  EXPECT_EQ(placed.destinations[0], dir / "out/clip.lipsync.mp4");
  EXPECT_EQ(placed.destinations[1], dir / "out/clip.lipsync.json");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir / "out"),
                          std::filesystem::directory_iterator()),
            2);
}

TEST(OutboxFileMover, AHalfGroupWhoseOtherNameWasTakenMeanwhileMovesOnWithoutTouchingIt) {
  TempDir dir;
  write(dir / "spool/result.mp4", "video");
  write(dir / "spool/result.json", "sidecar");
  place_into(dir / "spool/result.mp4", dir / "out", "clip.lipsync.mp4");  // then a crash
  write(dir / "out/clip.lipsync.json", "someone else's, written meanwhile");
  const auto placed = place_together({{dir / "spool/result.mp4", "clip.lipsync.mp4"},
                                      {dir / "spool/result.json", "clip.lipsync.json"}},
                                     dir / "out");
  EXPECT_EQ(placed.destinations[0], dir / "out/clip.lipsync-2.mp4");
  EXPECT_EQ(placed.destinations[1], dir / "out/clip.lipsync-2.json");
  EXPECT_FALSE(std::filesystem::exists(dir / "out/clip.lipsync.mp4")) << "our orphan stayed";
  EXPECT_EQ(read_text(dir / "out/clip.lipsync.json"), "someone else's, written meanwhile");
}

TEST(OutboxFileMover, ASymlinkInTheWayIsNeverTakenForOurFile) {
  TempDir dir;
  write(dir / "spool/result.mp4", "video");
  std::filesystem::create_directories(dir / "out");
  std::filesystem::create_symlink(dir / "spool/result.mp4", dir / "out/clip.mp4");
  const auto placed = place_into(dir / "spool/result.mp4", dir / "out", "clip.mp4");
  EXPECT_EQ(placed.destination, dir / "out/clip-2.mp4");
  EXPECT_TRUE(std::filesystem::is_symlink(dir / "out/clip.mp4"));
}

}  // namespace
}  // namespace lipsyncd::outbox
