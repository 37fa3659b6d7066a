// The inbox watcher on a real folder with real inotify and a real io_context: settle rules,
// the three pairing forms end to end, refused paths, ignored names and re-examination. Time is
// a clock the tests move by hand (test::ManualIntakeClock): the watcher's own timers (settle
// rechecks, partner waits, the periodic rescan, the inbox probe) fire as it passes, so nothing
// sleeps (inotify events are queued by the time a write returns, so handing them over takes no
// waiting either).

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <boost/asio/io_context.hpp>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include "lipsyncd/core/error.hpp"
#include "lipsyncd/intake/inbox_watcher.hpp"
#include "lipsyncd/spool/job_store.hpp"
#include "manual_intake_clock.hpp"
#include "other_filesystems.hpp"
#include "test_media.hpp"

namespace lipsyncd::intake {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

void write_file(const fs::path& file, const std::string& bytes) {
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << bytes;
}

std::string box(const std::string& type, const std::string& payload) {
  const auto size = static_cast<std::uint32_t>(8 + payload.size());
  return std::string{static_cast<char>(size >> 24), static_cast<char>(size >> 16),
                     static_cast<char>(size >> 8), static_cast<char>(size)} +
         type + payload;
}

// Real-looking files, so content sniffing sees what the extension says, and complete ones
// (their sizes declare their ends), so a single write takes the fast path.
std::string mp4(const std::string& media_data = std::string(64, 'v')) {
  return box("ftyp", std::string("isom\0\0\0\0isommp41", 16)) + box("moov", "m") +
         box("mdat", media_data);
}
const std::string kWav = std::string("RIFF\x48\x00\x00\x00WAVEfmt ", 16) + std::string(64, 'a');
const std::string kMp4 = mp4();

class InboxWatcherTest : public testing::Test {
 protected:
  InboxWatcherTest() {
    fs::create_directories(inbox());
    settings_.settle_s = 0.3;
    settings_.partner_wait_s = 0.6;
    settings_.rescan_interval_s = 0;
  }

  fs::path inbox() const { return dir_ / "inbox"; }

  void start() {
    watcher_ = std::make_unique<InboxWatcher>(
        io_, inbox(), settings_,
        IntakeCallbacks{
            [this](JobRequest request) {
              requests_.push_back(std::move(request));
              request_times_.push_back(clock_->now());
            },
            [this](Rejection rejection) {
              const auto files = rejection.files;
              rejections_.push_back(std::move(rejection));
              if (on_rejected_) on_rejected_(files);
            },
            [this](const InboxAvailability& inbox) { availability_changes_.push_back(inbox); },
            [this](std::string_view kind) { ++noticed_[std::string(kind)]; }},
        clock_);
    watcher_->start();
  }

  // Runs what is ready on the event loop (the inotify events already queued), without waiting.
  void deliver_events() {
    for (io_.restart(); io_.poll() > 0; io_.restart()) {
    }
  }

  // Moves the clock in 5 ms steps until `done` or the time-out (in that clock's time), handing
  // the watcher the inotify events queued by then at each step; returns `done()`.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 3s) {
    const auto deadline = clock_->now() + timeout;
    deliver_events();
    while (!done() && clock_->now() < deadline) {
      clock_->advance(5ms);
      deliver_events();
    }
    return done();
  }
  void run_for(std::chrono::milliseconds time) {
    run_until([] { return false; }, time);
  }

  test::TempDir dir_;
  IntakeConfig settings_;
  boost::asio::io_context io_;
  std::unique_ptr<InboxWatcher> watcher_;
  std::vector<JobRequest> requests_;
  std::vector<SteadyTime> request_times_;
  std::vector<Rejection> rejections_;
  std::vector<InboxAvailability> availability_changes_;
  std::function<void(const std::vector<fs::path>&)> on_rejected_;
  std::map<std::string, int> noticed_;  // on_watch_event kinds
  // The watcher's clock, far from the steady clock's now: nothing may read real time.
  std::shared_ptr<test::ManualIntakeClock> clock_ =
      std::make_shared<test::ManualIntakeClock>(SteadyTime{} + 1000h);
};

// What lipsyncd_watcher_events_total{kind} counts: each file once, by how it was noticed.
TEST_F(InboxWatcherTest, WatchEventsAreReportedByKind) {
  write_file(inbox() / "before.mp4", kMp4);
  start();
  EXPECT_EQ(noticed_, (std::map<std::string, int>{{"scan_found", 1}}));
  write_file(inbox() / "written.wav", kWav);
  write_file(inbox() / ".hidden.part", kWav);  // ignored names are not counted
  fs::rename(inbox() / ".hidden.part", inbox() / "renamed.wav");
  fs::create_directories(inbox() / "folder");
  deliver_events();
  watcher_->rescan();  // finds nothing new: every file was reported by an event
  EXPECT_EQ(noticed_,
            (std::map<std::string, int>{
                {"scan_found", 1}, {"close_write", 1}, {"moved_to", 1}, {"created_dir", 1}}));
}

// A file only the periodic rescan found (its events never came, as on a network share) counts
// as rescan_found when it is taken; one the rescan merely saw before its queued event does not.
TEST_F(InboxWatcherTest, RescanFoundCountsOnlyFilesNoEventToldOf) {
  start();
  write_file(inbox() / "share.mp4", kMp4);
  write_file(inbox() / "share.wav", kWav);
  // The events stay queued (not delivered): the rescan alone sees the files.
  watcher_->rescan();
  clock_->advance(5s);  // quiet for longer than settle_s: the settle check's timer takes them
  ASSERT_EQ(requests_.size(), 1u);
  EXPECT_EQ(noticed_, (std::map<std::string, int>{{"rescan_found", 2}}));

  noticed_.clear();
  write_file(inbox() / "local.mp4", kMp4);
  write_file(inbox() / "local.wav", kWav);
  watcher_->rescan();  // ahead of the queued events
  ASSERT_TRUE(run_until([&] { return requests_.size() >= 2; }));
  EXPECT_EQ(noticed_.count("rescan_found"), 0u);
  EXPECT_GE(noticed_["close_write"], 2);
}

TEST_F(InboxWatcherTest, ASameStemPairIsOfferedRightAfterTheSecondFileIsClosed) {
  settings_.settle_s = 3;  // far longer than the close path may take, even on a busy machine
  start();
  write_file(inbox() / "my clip ü.mp4", kMp4);
  write_file(inbox() / "my clip ü.wav", kWav);
  const auto closed = clock_->now();
  ASSERT_TRUE(run_until([&] { return !requests_.empty(); }));

  // The close event is enough: no waiting for settle_s, only the 25 ms quiet window.
  EXPECT_LE(request_times_[0] - closed, 30ms);
  const JobRequest& request = requests_[0];
  EXPECT_EQ(request.name, "my clip ü");
  EXPECT_EQ(request.source, JobSource::same_stem);
  EXPECT_EQ(request.video, fs::canonical(inbox()) / "my clip ü.mp4");
  EXPECT_EQ(request.audio, fs::canonical(inbox()) / "my clip ü.wav");
  EXPECT_TRUE(request.extras.empty());
  run_for(400ms);
  EXPECT_EQ(requests_.size(), 1u);  // offered once
  EXPECT_TRUE(rejections_.empty());
}

TEST_F(InboxWatcherTest, FilesAlreadyThereAtStartAreTakenOnceStableForSettleTime) {
  write_file(inbox() / "early.mov", kMp4);
  write_file(inbox() / "early.flac", "fLaC");
  const auto started = clock_->now();
  start();
  ASSERT_TRUE(run_until([&] { return !requests_.empty(); }));
  EXPECT_GE(request_times_[0] - started, 300ms);  // nothing told us they were complete
  EXPECT_EQ(requests_[0].name, "early");
}

TEST_F(InboxWatcherTest, AFileStillBeingWrittenIsNeverTakenEvenWhenItPausesLongerThanSettle) {
  write_file(inbox() / "slow.wav", kWav);
  start();
  run_for(50ms);
  {
    std::ofstream out(inbox() / "slow.mp4", std::ios::binary);
    out << kMp4;
    for (int chunk = 0; chunk < 6; ++chunk) {
      out << std::string(4096, 'x') << std::flush;
      run_for(400ms);  // longer than settle_s: size and mtime look stable
      EXPECT_TRUE(requests_.empty()) << "taken while the writer still had it open";
    }
  }
  ASSERT_TRUE(run_until([&] { return !requests_.empty(); }));
  EXPECT_EQ(fs::file_size(requests_[0].video), kMp4.size() + 6 * 4096);
}

TEST_F(InboxWatcherTest, AnEmptyFileWaitsForSettleTimeEvenWhenClosed) {
  settings_.settle_s = 1.5;
  start();
  write_file(inbox() / "clip.wav", kWav);
  const auto dropped = clock_->now();
  write_file(inbox() / "clip.mp4", "");  // a placeholder, filled through a second open
  run_for(200ms);
  EXPECT_TRUE(requests_.empty());
  write_file(inbox() / "clip.mp4", kMp4);
  ASSERT_TRUE(run_until([&] { return !requests_.empty(); }));
  EXPECT_EQ(fs::file_size(requests_[0].video), kMp4.size());
  EXPECT_LT(clock_->now() - dropped, 1200ms);  // the content's close was enough

  // An empty file nobody fills is taken after settle_s (the media check rejects it).
  write_file(inbox() / "empty.wav", kWav);
  const auto empty_dropped = clock_->now();
  write_file(inbox() / "empty.mp4", "");
  ASSERT_TRUE(run_until([&] { return requests_.size() == 2; }));
  EXPECT_GE(clock_->now() - empty_dropped, 1500ms);
}

TEST_F(InboxWatcherTest, ALoneFileIsRejectedAfterPartnerWait) {
  start();
  const auto dropped = clock_->now();
  write_file(inbox() / "clip.mp4", kMp4);
  ASSERT_TRUE(run_until([&] { return !rejections_.empty(); }));
  EXPECT_GE(clock_->now() - dropped, 600ms);
  EXPECT_EQ(rejections_[0].reason_code, "no_audio_found");
  EXPECT_EQ(rejections_[0].message, "no audio found for clip.mp4");
  EXPECT_THAT(rejections_[0].files, testing::ElementsAre(fs::canonical(inbox()) / "clip.mp4"));
  EXPECT_TRUE(requests_.empty());
}

TEST_F(InboxWatcherTest, APartnerArrivingWithinPartnerWaitCompletesThePair) {
  start();
  write_file(inbox() / "clip.wav", kWav);
  run_for(300ms);
  write_file(inbox() / "clip.mp4", kMp4);
  ASSERT_TRUE(run_until([&] { return !requests_.empty(); }));
  EXPECT_TRUE(rejections_.empty());
}

TEST_F(InboxWatcherTest, AManifestNamesFilesAnywhereInTheInboxAndCarriesOptions) {
  start();
  write_file(inbox() / "takes" / "take one.mp4", kMp4);
  write_file(inbox() / "voice ü.wav", kWav);
  write_file(inbox() / "promo.job.json",
             R"({"video": "takes/take one.mp4", "audio": "voice ü.wav", "sync_mode": "loop",
                 "model": "lipsync-1.8.0", "output": "promo final.mp4"})");
  ASSERT_TRUE(run_until([&] { return !requests_.empty(); }));
  run_for(700ms);  // nothing else may happen to the named files (no lone-file rejections)
  ASSERT_EQ(requests_.size(), 1u);
  EXPECT_TRUE(rejections_.empty());
  const JobRequest& request = requests_[0];
  const fs::path root = fs::canonical(inbox());
  EXPECT_EQ(request.name, "promo");
  EXPECT_EQ(request.source, JobSource::manifest);
  EXPECT_EQ(request.video, root / "takes" / "take one.mp4");
  EXPECT_EQ(request.audio, root / "voice ü.wav");
  EXPECT_THAT(request.extras, testing::ElementsAre(root / "promo.job.json"));
  EXPECT_EQ(request.sync_mode, SyncMode::loop);
  EXPECT_EQ(request.model, "lipsync-1.8.0");
  EXPECT_EQ(request.output_name, "promo final.mp4");
}

TEST_F(InboxWatcherTest, ManifestPathsThatEscapeTheInboxAreRefused) {
  const fs::path outside = dir_ / "secret.wav";
  write_file(outside, kWav);
  write_file(inbox() / "clip.mp4", kMp4);
  fs::create_symlink(outside, inbox() / "link.wav");
  start();
  write_file(inbox() / "dots.job.json", R"({"video": "clip.mp4", "audio": "../secret.wav"})");
  write_file(inbox() / "absolute.job.json",
             R"({"video": "clip.mp4", "audio": ")" + outside.string() + R"("})");
  write_file(inbox() / "symlink.job.json", R"({"video": "clip.mp4", "audio": "link.wav"})");
  ASSERT_TRUE(run_until([&] { return rejections_.size() >= 4; }));
  std::map<std::string, std::string> reasons;
  for (const auto& rejection : rejections_) {
    ASSERT_EQ(rejection.files.size(), 1u);
    reasons[rejection.files[0].filename().string()] = rejection.reason_code;
  }
  // The link itself is refused too, never read.
  EXPECT_EQ(reasons["link.wav"], "symlink_not_followed");
  EXPECT_EQ(reasons["dots.job.json"], "path_outside_inbox");
  EXPECT_EQ(reasons["absolute.job.json"], "path_outside_inbox");
  EXPECT_EQ(reasons["symlink.job.json"], "path_outside_inbox");
  EXPECT_TRUE(requests_.empty());
  EXPECT_TRUE(fs::exists(outside));
}

TEST_F(InboxWatcherTest, ASymlinkDroppedLaterIsRefusedAndNeverFollowed) {
  const fs::path outside = dir_ / "elsewhere.mp4";
  write_file(outside, kMp4);
  write_file(inbox() / "clip.wav", kWav);
  start();
  fs::create_symlink(outside, inbox() / "clip.mp4");
  ASSERT_TRUE(run_until([&] { return !rejections_.empty(); }));
  EXPECT_EQ(rejections_[0].reason_code, "symlink_not_followed");
  EXPECT_THAT(rejections_[0].files, testing::ElementsAre(inbox() / "clip.mp4"));
  EXPECT_NE(rejections_[0].message.find("clip.mp4"), std::string::npos);
  EXPECT_FALSE(rejections_[0].hint.empty());
  run_for(1500ms);  // past the partner wait: the audio is left alone, never paired with it
  EXPECT_TRUE(requests_.empty()) << "the link was paired as if it were the video";
  EXPECT_EQ(fs::file_size(outside), std::string(kMp4).size());
}

TEST_F(InboxWatcherTest, ManifestsWithUnknownKeysOrBadValuesAreRefusedWithTheReason) {
  start();
  write_file(inbox() / "clip.mp4", kMp4);
  write_file(inbox() / "voice.wav", kWav);
  write_file(inbox() / "typo.job.json",
             R"({"video": "clip.mp4", "audio": "voice.wav", "sync-mode": "loop"})");
  write_file(inbox() / "mode.job.json",
             R"({"video": "clip.mp4", "audio": "voice.wav", "sync_mode": "stretch"})");
  write_file(inbox() / "output.job.json",
             R"({"video": "clip.mp4", "audio": "voice.wav", "output": "../../etc/x.mp4"})");
  write_file(inbox() / "sidecar.job.json",
             R"({"video": "clip.mp4", "audio": "voice.wav", "output": "result.json"})");
  write_file(inbox() / "list.job.json", R"(["clip.mp4", "voice.wav"])");
  write_file(inbox() / "half.job.json", R"({"video": "clip.mp4"})");
  ASSERT_TRUE(run_until([&] { return rejections_.size() >= 6; }));
  std::map<std::string, std::string> messages;
  for (const auto& rejection : rejections_) {
    const auto file = rejection.files.at(0).filename().string();
    // A bad "output" has its own reason: it is refused before anything is uploaded or paid.
    const bool about_output = file == "output.job.json" || file == "sidecar.job.json";
    EXPECT_EQ(rejection.reason_code, about_output ? "bad_output_name" : "bad_manifest")
        << rejection.message;
    messages[file] = rejection.message;
  }
  EXPECT_THAT(messages["typo.job.json"], testing::HasSubstr("unknown key \"sync-mode\""));
  EXPECT_THAT(messages["mode.job.json"], testing::HasSubstr("stretch"));
  EXPECT_THAT(messages["output.job.json"], testing::HasSubstr("has a folder in it"));
  EXPECT_THAT(messages["sidecar.job.json"], testing::HasSubstr("does not end in .mp4"));
  EXPECT_THAT(messages["list.job.json"], testing::HasSubstr("not a JSON object"));
  EXPECT_THAT(messages["half.job.json"], testing::HasSubstr("needs both"));
  EXPECT_TRUE(requests_.empty());
}

TEST_F(InboxWatcherTest, AFolderMovedInBecomesOneJobWithItsJobJson) {
  const fs::path staging = dir_ / "staging" / "Interview 2";
  write_file(staging / "camera.mov", kMp4);
  write_file(staging / "mic.m4a", "audio");
  write_file(staging / "job.json", R"({"sync_mode": "bounce"})");
  start();
  fs::rename(staging, inbox() / "Interview 2");
  ASSERT_TRUE(run_until([&] { return !requests_.empty(); }));
  const fs::path folder = fs::canonical(inbox()) / "Interview 2";
  const JobRequest& request = requests_[0];
  EXPECT_EQ(request.source, JobSource::folder);
  EXPECT_EQ(request.name, "Interview 2");
  EXPECT_EQ(request.folder, folder);
  EXPECT_EQ(request.video, folder / "camera.mov");
  EXPECT_EQ(request.audio, folder / "mic.m4a");
  EXPECT_THAT(request.extras, testing::ElementsAre(folder / "job.json"));
  EXPECT_EQ(request.sync_mode, SyncMode::bounce);
}

TEST_F(InboxWatcherTest, AFolderFilledFileByFileIsWatchedToo) {
  start();
  fs::create_directory(inbox() / "take");
  run_for(50ms);
  write_file(inbox() / "take" / "v.mp4", kMp4);
  run_for(100ms);
  EXPECT_TRUE(requests_.empty());
  write_file(inbox() / "take" / "a.wav", kWav);
  ASSERT_TRUE(run_until([&] { return !requests_.empty(); }));
  EXPECT_EQ(requests_[0].source, JobSource::folder);
  EXPECT_EQ(requests_[0].name, "take");
}

TEST_F(InboxWatcherTest, HiddenAndTemporaryNamesAreIgnoredUntilRenamedToTheirRealName) {
  start();
  write_file(inbox() / ".clip.mp4", kMp4);
  write_file(inbox() / "clip.mp4.part", kMp4);
  write_file(inbox() / "clip.wav.crdownload", kWav);
  write_file(inbox() / "upload.tmp", kWav);
  write_file(inbox() / "~lock.wav", kWav);
  run_for(900ms);  // longer than settle and partner wait together
  EXPECT_TRUE(requests_.empty());
  EXPECT_TRUE(rejections_.empty());
  EXPECT_EQ(watcher_->pending_count(), 0u);

  fs::rename(inbox() / "clip.mp4.part", inbox() / "clip.mp4");
  fs::rename(inbox() / "clip.wav.crdownload", inbox() / "clip.wav");
  ASSERT_TRUE(run_until([&] { return !requests_.empty(); }, 1s));
  EXPECT_EQ(requests_[0].name, "clip");
}

TEST_F(InboxWatcherTest, AManifestFixedAfterItsRejectionIsExaminedAgainAtOnce) {
  settings_.settle_s = 3;
  settings_.partner_wait_s = 5;
  start();
  write_file(inbox() / "clip.mp4", kMp4);
  write_file(inbox() / "voice.wav", kWav);
  // A manifest that does not parse may be the head of one still being written: settle_s.
  write_file(inbox() / "clip.job.json", R"({"video": "clip.mp4", "audio": )");
  ASSERT_TRUE(run_until([&] { return !rejections_.empty(); }, 6s));
  EXPECT_EQ(rejections_[0].reason_code, "bad_manifest");

  // The daemon left it where it was; the user saves the fixed one over it (an editor's
  // write + rename: rewriting it in place would be a second round, which waits settle_s).
  const auto fixed = clock_->now();
  write_file(dir_ / "clip.job.json", R"({"video": "clip.mp4", "audio": "voice.wav"})");
  fs::rename(dir_ / "clip.job.json", inbox() / "clip.job.json");
  ASSERT_TRUE(run_until([&] { return !requests_.empty(); }));
  EXPECT_LT(clock_->now() - fixed, 1500ms);  // no waiting for settle, partners or a restart
  EXPECT_EQ(requests_[0].audio.filename(), "voice.wav");
}

TEST_F(InboxWatcherTest, FilesHandedOutAreNotOfferedTwiceUnlessReexamined) {
  write_file(inbox() / "clip.mp4", kMp4);
  write_file(inbox() / "clip.wav", kWav);
  start();
  ASSERT_TRUE(run_until([&] { return !requests_.empty(); }));
  watcher_->rescan();  // the daemon did not move them (yet): still not offered again
  run_for(500ms);
  EXPECT_EQ(requests_.size(), 1u);

  watcher_->reexamine(requests_[0].files());
  ASSERT_TRUE(run_until([&] { return requests_.size() == 2; }));
  EXPECT_EQ(requests_[1].video, requests_[0].video);
}

// A network share reports nothing through inotify: only the periodic rescan, on the clock,
// finds what lands there. (Here the files' events stay queued, never handed over.)
TEST_F(InboxWatcherTest, ThePeriodicRescanFindsFilesInotifyCannotReport) {
  settings_.rescan_interval_s = 0.2;
  start();
  write_file(inbox() / "nfs.mp4", kMp4);
  write_file(inbox() / "nfs.wav", kWav);
  clock_->advance(150ms);
  EXPECT_EQ(watcher_->pending_count(), 0u) << "seen before the first rescan was due";
  clock_->advance(50ms);
  EXPECT_EQ(watcher_->pending_count(), 2u);
  clock_->advance(1s);  // settle_s, by the watcher's own rechecks
  ASSERT_EQ(requests_.size(), 1u);
  EXPECT_EQ(requests_[0].name, "nfs");
  EXPECT_EQ(noticed_["rescan_found"], 2);
}

TEST_F(InboxWatcherTest, WithoutAPeriodicRescanOnlyEventsAndTheStartScanFindFiles) {
  settings_.rescan_interval_s = 0;
  start();
  write_file(inbox() / "nfs.mp4", kMp4);
  write_file(inbox() / "nfs.wav", kWav);
  clock_->advance(10s);  // the events stay queued: nothing else looks
  EXPECT_EQ(watcher_->pending_count(), 0u);
  EXPECT_TRUE(requests_.empty());
  EXPECT_EQ(clock_->pending_waits(), 0u);
}

TEST_F(InboxWatcherTest, NoCallbackRunsAfterStop) {
  start();
  write_file(inbox() / "clip.mp4", kMp4);
  write_file(inbox() / "clip.wav", kWav);
  watcher_->stop();
  run_for(500ms);
  EXPECT_TRUE(requests_.empty());
  watcher_ = nullptr;
  run_for(50ms);  // handlers still queued must find the watcher gone
}

TEST_F(InboxWatcherTest, TwoVideosForOneStemAreRejectedAsAmbiguous) {
  start();
  write_file(inbox() / "clip.mp4", kMp4);
  write_file(inbox() / "clip.mov", kMp4);
  write_file(inbox() / "clip.wav", kWav);
  ASSERT_TRUE(run_until([&] { return !rejections_.empty(); }));
  EXPECT_EQ(rejections_[0].reason_code, "ambiguous_pair");
  EXPECT_EQ(rejections_[0].files.size(), 3u);
  EXPECT_TRUE(requests_.empty());
}

TEST_F(InboxWatcherTest, ContentDecidesWhenTheExtensionDoesNot) {
  start();
  write_file(inbox() / "face.jpg", "\xff\xd8\xff\xe0 picture");  // the media check refuses it
  write_file(inbox() / "face.voice", kWav);                      // sniffed: RIFF WAVE
  write_file(inbox() / "notes.txt", "call Bob");
  ASSERT_TRUE(run_until([&] { return !requests_.empty() && !rejections_.empty(); }));
  EXPECT_EQ(requests_[0].video.filename(), "face.jpg");
  EXPECT_EQ(requests_[0].audio.filename(), "face.voice");
  EXPECT_EQ(rejections_[0].reason_code, "unknown_file_type");
  EXPECT_EQ(rejections_[0].files[0].filename(), "notes.txt");
}

TEST_F(InboxWatcherTest, AManifestWaitsForItsInputsThenRejectsWhatNeverCame) {
  start();
  write_file(inbox() / "a.job.json", R"({"video": "a-cam.mp4", "audio": "a-mic.wav"})");
  write_file(inbox() / "b.job.json", R"({"video": "b-cam.mp4", "audio": "b-mic.wav"})");
  run_for(200ms);
  write_file(inbox() / "a-cam.mp4", kMp4);
  write_file(inbox() / "a-mic.wav", kWav);
  write_file(inbox() / "b-cam.mp4", kMp4);
  ASSERT_TRUE(run_until([&] { return !requests_.empty() && !rejections_.empty(); }));
  EXPECT_EQ(requests_[0].name, "a");
  EXPECT_EQ(rejections_[0].reason_code, "missing_input");
  EXPECT_THAT(rejections_[0].message, testing::HasSubstr("b-mic.wav"));
  EXPECT_THAT(rejections_[0].files, testing::ElementsAre(fs::canonical(inbox()) / "b.job.json"));
}

TEST_F(InboxWatcherTest, FiftyPairsDroppedAtOnceBecomeFiftyJobsClaimedIntoTheSpool) {
  const auto opened = spool::open_job_store({dir_ / "state", "lipsync-1.9.0-beta"});
  spool::JobStore& store = *opened;
  std::vector<spool::JobId> claimed;
  watcher_ = std::make_unique<InboxWatcher>(
      io_, inbox(), settings_,
      IntakeCallbacks{[&](JobRequest request) { claimed.push_back(store.claim(request).job.id); },
                      [&](Rejection rejection) { rejections_.push_back(rejection); }},
      clock_);
  watcher_->start();
  for (int i = 0; i < 50; ++i) {
    write_file(inbox() / ("pair " + std::to_string(i) + ".mp4"), mp4(std::to_string(i)));
    write_file(inbox() / ("pair " + std::to_string(i) + ".wav"), kWav);
  }
  ASSERT_TRUE(run_until([&] { return claimed.size() == 50; }, 10s)) << claimed.size();
  run_for(300ms);
  EXPECT_EQ(claimed.size(), 50u);
  EXPECT_TRUE(rejections_.empty());
  EXPECT_TRUE(fs::is_empty(inbox()));
  EXPECT_EQ(watcher_->pending_count(), 0u);
  EXPECT_EQ(store.unfinished().size(), 50u);
}

TEST_F(InboxWatcherTest, ARejectedLoneFileLeftInPlacePairsWithAPartnerArrivingLater) {
  start();
  write_file(inbox() / "late.mp4", kMp4);
  ASSERT_TRUE(run_until([&] { return !rejections_.empty(); }));
  EXPECT_EQ(rejections_[0].reason_code, "no_audio_found");
  // The daemon could not move it to error/; the missing audio arrives after all.
  write_file(inbox() / "late.wav", kWav);
  ASSERT_TRUE(run_until([&] { return !requests_.empty(); }));
  EXPECT_EQ(requests_[0].video.filename(), "late.mp4");
  EXPECT_EQ(rejections_.size(), 1u);
}

TEST_F(InboxWatcherTest, AFolderMovedOutIsForgotten) {
  start();
  write_file(inbox() / "draft" / "v.mp4", kMp4);
  run_for(100ms);
  fs::rename(inbox() / "draft", dir_ / "draft");
  run_for(900ms);  // past the partner wait: nothing to reject, nothing watched there
  EXPECT_TRUE(rejections_.empty());
  EXPECT_EQ(watcher_->pending_count(), 0u);
  write_file(dir_ / "draft" / "a.wav", kWav);  // outside the inbox now
  run_for(200ms);
  EXPECT_TRUE(requests_.empty());
}

TEST_F(InboxWatcherTest, AMissingInboxIsReportedAtStart) {
  watcher_ = std::make_unique<InboxWatcher>(io_, dir_ / "nope", settings_, IntakeCallbacks{});
  try {
    watcher_->start();
    FAIL() << "started on a missing inbox";
  } catch (const Error& e) {
    EXPECT_EQ(e.reason_code(), "inbox_unwatchable");
  }
}

TEST_F(InboxWatcherTest, AWriterAppendingInRoundsIsTakenOnceWholeNotAfterItsFirstRound) {
  // `cat part >> clip.mp4` in a loop: every round opens, appends and closes.
  settings_.settle_s = 0.6;
  settings_.partner_wait_s = 30;
  start();
  write_file(dir_ / "clip.wav", kWav);
  fs::rename(dir_ / "clip.wav", inbox() / "clip.wav");
  const std::string video = test::read_text(test::media("real_talk_lp_d10.mp4"));
  ASSERT_GT(video.size(), 500'000u);
  constexpr std::size_t kChunk = 64 * 1024 + 123;
  for (std::size_t at = 0; at < video.size(); at += kChunk) {
    std::ofstream(inbox() / "clip.mp4", std::ios::binary | std::ios::app)
        << video.substr(at, kChunk);
    run_for(100ms);  // far longer than the close quiet window, shorter than settle_s
    ASSERT_TRUE(requests_.empty()) << "taken between two rounds, after byte " << at + kChunk;
  }
  ASSERT_TRUE(run_until([&] { return !requests_.empty(); }));
  run_for(200ms);
  ASSERT_EQ(requests_.size(), 1u);
  EXPECT_EQ(fs::file_size(requests_[0].video), video.size());
  EXPECT_TRUE(rejections_.empty());
}

TEST_F(InboxWatcherTest, AFifoInTheInboxIsRejectedAtOnceAndNeverOpened) {
  ASSERT_EQ(::mkfifo((inbox() / "found.mp4").c_str(), 0600), 0);  // there at start
  start();
  ASSERT_EQ(::mkfifo((inbox() / "pipe").c_str(), 0600), 0);  // dropped later
  // Opening either for reading would block this thread for good: the test would hang.
  ASSERT_TRUE(run_until([&] { return rejections_.size() == 2; }));
  std::set<std::string> names;
  for (const auto& rejection : rejections_) {
    EXPECT_EQ(rejection.reason_code, "not_a_regular_file");
    EXPECT_THAT(rejection.message, testing::HasSubstr("named pipe (FIFO)"));
    ASSERT_EQ(rejection.files.size(), 1u);
    names.insert(rejection.files[0].filename().string());
  }
  EXPECT_EQ(names, (std::set<std::string>{"found.mp4", "pipe"}));
  // Left where they are (the daemon could not move them): not reported on every rescan.
  watcher_->rescan();
  run_for(200ms);
  EXPECT_EQ(rejections_.size(), 2u);
  EXPECT_TRUE(requests_.empty());
}

TEST_F(InboxWatcherTest, ARejectedFileThatChangesBeforeItsTurnIsNotHandedOutWhileItChanges) {
  write_file(inbox() / "a.mp4", kMp4);
  write_file(inbox() / "b.mp4", kMp4);
  // While the daemon moves a.mp4 to error/, b.mp4's writer starts another round.
  on_rejected_ = [&](const std::vector<fs::path>& files) {
    if (files[0].filename() == "a.mp4") {
      std::ofstream(inbox() / "b.mp4", std::ios::binary | std::ios::app) << "more";
    }
  };
  start();              // found by the scan: settle_s decides
  clock_->advance(1s);  // settled, then both alone past partner_wait_s: judged in one pass
  ASSERT_EQ(rejections_.size(), 1u);
  EXPECT_EQ(rejections_[0].files[0].filename(), "a.mp4");
  EXPECT_EQ(watcher_->pending_count(), 1u);  // b.mp4 is watched again
  clock_->advance(1s);
  ASSERT_EQ(rejections_.size(), 2u);  // judged again once quiet, all of it
  EXPECT_EQ(rejections_[1].files[0].filename(), "b.mp4");
}

TEST_F(InboxWatcherTest, ADeletedOrMovedInboxPausesIntakeAndAFolderBackAtItsPathResumesIt) {
  start();
  write_file(inbox() / "early.mp4", kMp4);
  run_for(50ms);
  fs::remove_all(inbox());
  ASSERT_TRUE(run_until([&] { return !availability_changes_.empty(); }));
  EXPECT_FALSE(availability_changes_[0].available);
  EXPECT_THAT(availability_changes_[0].reason, testing::HasSubstr("was deleted"));
  EXPECT_FALSE(watcher_->availability().available);
  EXPECT_EQ(watcher_->pending_count(), 0u);
  run_for(300ms);  // nothing to see, and nothing thrown out of the event loop

  fs::create_directories(inbox());
  write_file(inbox() / "clip.mp4", kMp4);
  write_file(inbox() / "clip.wav", kWav);
  ASSERT_TRUE(run_until([&] { return !requests_.empty(); }, 5s));
  ASSERT_EQ(availability_changes_.size(), 2u);
  EXPECT_TRUE(availability_changes_[1].available);
  EXPECT_TRUE(watcher_->availability().available);
  EXPECT_EQ(requests_[0].name, "clip");

  // Moved away: the same, and the folder's new place is not watched.
  fs::rename(inbox(), dir_ / "old inbox");
  ASSERT_TRUE(run_until([&] { return availability_changes_.size() == 3; }));
  EXPECT_THAT(availability_changes_[2].reason, testing::HasSubstr("was moved away"));
  write_file(dir_ / "old inbox" / "lost.mp4", kMp4);
  write_file(dir_ / "old inbox" / "lost.wav", kWav);
  run_for(300ms);
  EXPECT_EQ(requests_.size(), 1u);
  fs::create_directories(inbox());
  ASSERT_TRUE(run_until([&] { return availability_changes_.size() == 4; }, 5s));
  write_file(inbox() / "next.mp4", kMp4);  // seen through inotify again
  write_file(inbox() / "next.wav", kWav);
  ASSERT_TRUE(run_until([&] { return requests_.size() == 2; }));
  EXPECT_EQ(requests_[1].name, "next");
}

TEST_F(InboxWatcherTest, AnUnmountedInboxPausesIntakeUntilAFilesystemIsMountedThereAgain) {
  test::TmpfsMount mounted(inbox(), "4m");
  ASSERT_TRUE(mounted.ok()) << "cannot mount a tmpfs (needs root, as CI has): " << mounted.error();
  start();
  ASSERT_TRUE(mounted.unmount());
  ASSERT_TRUE(run_until([&] { return !availability_changes_.empty(); }));
  EXPECT_THAT(availability_changes_[0].reason, testing::HasSubstr("was unmounted"));
  // The empty mount point left behind is not the inbox: nothing that lands there is taken.
  write_file(inbox() / "under.mp4", kMp4);
  write_file(inbox() / "under.wav", kWav);
  run_for(1500ms);
  EXPECT_TRUE(requests_.empty());
  EXPECT_FALSE(watcher_->availability().available);
  fs::remove(inbox() / "under.mp4");
  fs::remove(inbox() / "under.wav");

  mounted.mount();
  ASSERT_TRUE(mounted.ok()) << mounted.error();
  ASSERT_TRUE(run_until([&] { return availability_changes_.size() == 2; }, 5s));
  EXPECT_TRUE(availability_changes_[1].available);
  write_file(inbox() / "clip.mp4", kMp4);
  write_file(inbox() / "clip.wav", kWav);
  ASSERT_TRUE(run_until([&] { return !requests_.empty(); }));
  EXPECT_EQ(requests_[0].name, "clip");
}

}  // namespace
}  // namespace lipsyncd::intake
