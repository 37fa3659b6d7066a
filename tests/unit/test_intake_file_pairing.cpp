// pair_files() on its own: which settled files form jobs, which wait (and until when) and which
// are rejected, on a clock the test sets. Files exist on disk only where their content is
// read (manifests, sniffed .mp4s).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "lipsyncd/intake/file_pairing.hpp"
#include "test_media.hpp"

namespace lipsyncd::intake {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class FilePairingTest : public testing::Test {
 protected:
  FilePairingTest() { fs::create_directories(inbox_); }

  InboxFile settled(const std::string& relative, SteadyClock::duration ago = 0s) {
    return {inbox_ / relative, true, now_ - ago};
  }
  InboxFile settling(const std::string& relative) { return {inbox_ / relative, false, {}}; }
  void write(const std::string& relative, const std::string& text) {
    fs::create_directories((inbox_ / relative).parent_path());
    std::ofstream(inbox_ / relative, std::ios::binary) << text;
  }
  PairingOutcome pair(const std::vector<InboxFile>& files) {
    return pair_files(inbox_, files, now_, kPartnerWait);
  }

  static constexpr auto kPartnerWait = std::chrono::seconds(300);
  test::TempDir dir_;
  fs::path inbox_ = fs::canonical(dir_.path()) / "inbox";
  SteadyTime now_ = SteadyTime{} + 10h;
};

TEST_F(FilePairingTest, TwoSettledFilesWithOneStemAreOneJob) {
  const auto outcome = pair({settled("clip.mov"), settled("clip.wav")});
  ASSERT_EQ(outcome.requests.size(), 1u);
  EXPECT_EQ(outcome.requests[0].name, "clip");
  EXPECT_EQ(outcome.requests[0].source, JobSource::same_stem);
  EXPECT_EQ(outcome.requests[0].video, inbox_ / "clip.mov");
  EXPECT_EQ(outcome.requests[0].audio, inbox_ / "clip.wav");
  EXPECT_TRUE(outcome.rejections.empty());
}

TEST_F(FilePairingTest, NothingIsDecidedWhileAMemberIsStillSettling) {
  const auto outcome = pair({settled("clip.mov", 1h), settling("clip.wav")});
  EXPECT_TRUE(outcome.requests.empty());
  EXPECT_TRUE(outcome.rejections.empty());
  EXPECT_FALSE(outcome.next_deadline);  // the watcher's settle check comes first
}

TEST_F(FilePairingTest, ALoneFileWaitsPartnerWaitThenIsRejectedWithItsReason) {
  auto outcome = pair({settled("clip.mov", 100s)});
  EXPECT_TRUE(outcome.rejections.empty());
  ASSERT_TRUE(outcome.next_deadline);
  EXPECT_EQ(*outcome.next_deadline, now_ + 200s);

  now_ += 200s;
  outcome = pair({settled("clip.mov", 300s)});
  ASSERT_EQ(outcome.rejections.size(), 1u);
  EXPECT_EQ(outcome.rejections[0].reason_code, "no_audio_found");
  EXPECT_THAT(outcome.rejections[0].files, testing::ElementsAre(inbox_ / "clip.mov"));
  EXPECT_TRUE(outcome.rejections[0].folder.empty());

  outcome = pair({settled("voice.flac", 301s)});
  ASSERT_EQ(outcome.rejections.size(), 1u);
  EXPECT_EQ(outcome.rejections[0].reason_code, "no_video_found");
}

TEST_F(FilePairingTest, MoreThanOneVideoOrAudioForAStemIsAmbiguous) {
  const auto outcome = pair({settled("a.mov"), settled("a.avi"), settled("a.wav")});
  EXPECT_TRUE(outcome.requests.empty());
  ASSERT_EQ(outcome.rejections.size(), 1u);
  EXPECT_EQ(outcome.rejections[0].reason_code, "ambiguous_pair");
  EXPECT_EQ(outcome.rejections[0].files.size(), 3u);
}

TEST_F(FilePairingTest, AManifestTakesTheFilesItNamesBeforeAnyStemPairing) {
  write("take.job.json", R"({"video": "cam/take.mov", "audio": "take.wav", "sync_mode": "loop"})");
  const auto outcome =
      pair({settled("take.job.json"), settled("cam/take.mov"), settled("take.wav")});
  ASSERT_EQ(outcome.requests.size(), 1u);
  const auto& request = outcome.requests[0];
  EXPECT_EQ(request.source, JobSource::manifest);
  EXPECT_EQ(request.video, inbox_ / "cam" / "take.mov");
  EXPECT_EQ(request.audio, inbox_ / "take.wav");
  EXPECT_THAT(request.extras, testing::ElementsAre(inbox_ / "take.job.json"));
  EXPECT_EQ(request.sync_mode, SyncMode::loop);
  EXPECT_TRUE(outcome.rejections.empty());
}

TEST_F(FilePairingTest, AManifestReservesItsFilesWhileWaitingAndThenNamesWhatIsMissing) {
  write("take.job.json", R"({"video": "take.mov", "audio": "voice.wav"})");
  auto outcome = pair({settled("take.job.json", 10s), settled("take.mov", 400s)});
  EXPECT_TRUE(outcome.rejections.empty()) << "take.mov is reserved, not lone";
  ASSERT_TRUE(outcome.next_deadline);
  EXPECT_EQ(*outcome.next_deadline, now_ + 290s);

  outcome = pair({settled("take.job.json", 300s), settled("take.mov", 700s)});
  ASSERT_EQ(outcome.rejections.size(), 1u);
  EXPECT_EQ(outcome.rejections[0].reason_code, "missing_input");
  EXPECT_THAT(outcome.rejections[0].message, testing::HasSubstr("voice.wav"));
  EXPECT_THAT(outcome.rejections[0].files, testing::ElementsAre(inbox_ / "take.job.json"));
}

TEST_F(FilePairingTest, AFolderWithNestedFoldersIsOneJobNamedAfterIt) {
  const auto outcome = pair({settled("Interview 2/camera/raw/a.mov"),
                             settled("Interview 2/mic.wav"), settled("Interview 2/notes.txt")});
  ASSERT_EQ(outcome.requests.size(), 1u);
  const auto& request = outcome.requests[0];
  EXPECT_EQ(request.name, "Interview 2");
  EXPECT_EQ(request.source, JobSource::folder);
  EXPECT_EQ(request.folder, inbox_ / "Interview 2");
  EXPECT_EQ(request.video, inbox_ / "Interview 2" / "camera" / "raw" / "a.mov");
  EXPECT_THAT(request.extras, testing::ElementsAre(inbox_ / "Interview 2" / "notes.txt"));
}

TEST_F(FilePairingTest, AFolderRejectionNamesTheFolderSoItCanBeRemovedOnceEmptied) {
  const auto outcome = pair({settled("lonely/camera/a.mov", 400s)});
  ASSERT_EQ(outcome.rejections.size(), 1u);
  EXPECT_EQ(outcome.rejections[0].reason_code, "no_audio_found");
  EXPECT_EQ(outcome.rejections[0].folder, inbox_ / "lonely");
}

TEST_F(FilePairingTest, AFileOfUnknownTypeIsRejectedAfterPartnerWait) {
  write("notes.txt", "call Bob");
  EXPECT_TRUE(pair({settled("notes.txt", 10s)}).rejections.empty());
  const auto outcome = pair({settled("notes.txt", 300s)});
  ASSERT_EQ(outcome.rejections.size(), 1u);
  EXPECT_EQ(outcome.rejections[0].reason_code, "unknown_file_type");
}

// The pairing rules as a table: what the watcher has seen (relative path, settled how many
// seconds ago, or still settling) and what pair_files() makes of it, written as one line per
// request or rejection. Names only: no file is read (extensions decide; .mp4 is not used,
// since it is sniffed).
struct SeenFile {
  std::string path;
  std::optional<int> settled_s_ago;  // nullopt: still settling
};
struct PairingCase {
  std::string rule;
  std::vector<SeenFile> seen;
  std::vector<std::string> outcome;  // sorted
  std::optional<int> next_deadline_in_s{};
};

std::ostream& operator<<(std::ostream& out, const PairingCase& c) {
  return out << c.rule;
}

std::string relative_names(const std::vector<fs::path>& files, const fs::path& inbox) {
  std::string text;
  for (const auto& file : files)
    text += (text.empty() ? "" : " ") + file.lexically_relative(inbox).string();
  return text;
}

std::vector<std::string> describe(const PairingOutcome& outcome, const fs::path& inbox) {
  std::vector<std::string> lines;
  for (const auto& request : outcome.requests) {
    const char* source = request.source == JobSource::folder     ? "folder"
                         : request.source == JobSource::manifest ? "manifest"
                                                                 : "same_stem";
    lines.push_back(std::string("job ") + source + " \"" + request.name +
                    "\": " + relative_names({request.video, request.audio}, inbox) +
                    (request.extras.empty() ? "" : " + " + relative_names(request.extras, inbox)));
  }
  for (const auto& rejection : outcome.rejections) {
    lines.push_back(
        rejection.reason_code + ": " + relative_names(rejection.files, inbox) +
        (rejection.folder.empty()
             ? ""
             : " (folder " + rejection.folder.lexically_relative(inbox).string() + ")"));
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

class PairingRules : public testing::TestWithParam<PairingCase> {};

TEST_P(PairingRules, SeenFilesBecomeTheseJobsAndRejections) {
  const PairingCase& c = GetParam();
  const fs::path inbox = "/inbox";
  const SteadyTime now = SteadyTime{} + 10h;
  std::vector<InboxFile> files;
  for (const auto& seen : c.seen) {
    files.push_back(
        {inbox / seen.path, seen.settled_s_ago.has_value(),
         seen.settled_s_ago ? now - std::chrono::seconds(*seen.settled_s_ago) : SteadyTime{}});
  }
  const PairingOutcome outcome = pair_files(inbox, files, now, std::chrono::seconds(300));
  EXPECT_EQ(describe(outcome, inbox), c.outcome);
  if (c.next_deadline_in_s) {
    ASSERT_TRUE(outcome.next_deadline);
    EXPECT_EQ(*outcome.next_deadline - now, std::chrono::seconds(*c.next_deadline_in_s));
  } else {
    EXPECT_FALSE(outcome.next_deadline);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, PairingRules,
    testing::Values(
        PairingCase{"a video and an audio with one stem are a job",
                    {{"clip.mov", 0}, {"clip.wav", 0}},
                    {"job same_stem \"clip\": clip.mov clip.wav"}},
        PairingCase{"a picture stands in for the video",
                    {{"face.jpg", 0}, {"face.mp3", 0}},
                    {"job same_stem \"face\": face.jpg face.mp3"}},
        PairingCase{"extensions count whatever their case",
                    {{"Take.MOV", 0}, {"Take.Flac", 0}},
                    {"job same_stem \"Take\": Take.MOV Take.Flac"}},
        PairingCase{"several pairs at once are several jobs",
                    {{"a.mov", 0}, {"a.wav", 0}, {"b.webm", 0}, {"b.m4a", 0}},
                    {"job same_stem \"a\": a.mov a.wav", "job same_stem \"b\": b.webm b.m4a"}},
        PairingCase{"a member still settling holds its whole group back",
                    {{"clip.mov", 1000}, {"clip.wav", std::nullopt}},
                    {}},
        PairingCase{
            "a lone file waits partner_wait from when it settled", {{"clip.mov", 100}}, {}, 200},
        PairingCase{"the earliest deadline of several waiting files is the next",
                    {{"x.mov", 100}, {"y.wav", 250}},
                    {},
                    50},
        PairingCase{"lone files past partner_wait are rejected, each for what it lacks",
                    {{"a.mov", 300}, {"b.wav", 400}},
                    {"no_audio_found: a.mov", "no_video_found: b.wav"}},
        PairingCase{"two videos for one stem are ambiguous at once, without waiting",
                    {{"a.mov", 0}, {"a.avi", 0}},
                    {"ambiguous_pair: a.avi a.mov"}},
        PairingCase{"two audios and a video for one stem are ambiguous",
                    {{"a.mov", 0}, {"a.wav", 0}, {"a.mp3", 0}},
                    {"ambiguous_pair: a.mov a.mp3 a.wav"}},
        PairingCase{"a folder with a video and an audio is one job named after it",
                    {{"take/v.mov", 0}, {"take/sub/a.wav", 0}},
                    {"job folder \"take\": take/v.mov take/sub/a.wav"}},
        PairingCase{"a folder's other files travel along as extras",
                    {{"take/v.mov", 0}, {"take/a.wav", 0}, {"take/notes.txt", 0}},
                    {"job folder \"take\": take/v.mov take/a.wav + take/notes.txt"}},
        PairingCase{"a folder waits while any of its files settles",
                    {{"take/v.mov", 0}, {"take/a.wav", std::nullopt}},
                    {}},
        PairingCase{"a folder with two videos is ambiguous, and names the folder",
                    {{"take/one.mov", 0}, {"take/two.mov", 0}, {"take/a.wav", 0}},
                    {"ambiguous_pair: take/one.mov take/two.mov take/a.wav (folder take)"}},
        PairingCase{"a folder's lone audio waits, then is rejected naming the folder",
                    {{"lonely/a.wav", 300}},
                    {"no_video_found: lonely/a.wav (folder lonely)"}},
        PairingCase{"a top-level file never pairs with a file in a folder",
                    {{"clip.mov", 300}, {"sub/clip.wav", 300}},
                    {"no_audio_found: clip.mov", "no_video_found: sub/clip.wav (folder sub)"}},
        PairingCase{"two folders are two jobs, even with the same file names",
                    {{"one/v.mov", 0}, {"one/a.wav", 0}, {"two/v.mov", 0}, {"two/a.wav", 0}},
                    {"job folder \"one\": one/v.mov one/a.wav",
                     "job folder \"two\": two/v.mov two/a.wav"}}),
    [](const testing::TestParamInfo<PairingCase>& param) {
      std::string name;
      for (char c : param.param.rule) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return name;
    });

}  // namespace
}  // namespace lipsyncd::intake
