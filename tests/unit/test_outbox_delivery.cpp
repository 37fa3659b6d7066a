#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "lipsyncd/core/error.hpp"
#include "lipsyncd/outbox/delivery.hpp"
#include "test_media.hpp"

namespace lipsyncd::outbox {
namespace {

using test::TempDir;

void write(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

boost::json::object read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return boost::json::parse(text.str()).as_object();
}

const std::string kFakeMp4 = std::string(
                                 "\0\0\0\x18"
                                 "ftypisom",
                                 12) +
                             "rest of the file";

VideoProber prober_saying(double seconds, bool has_video = true) {
  return [=](const std::filesystem::path&) { return VideoFacts{has_video, seconds}; };
}

TEST(OutboxDelivery, VerifyAcceptsAnMp4OfTheExpectedLength) {
  TempDir dir;
  write(dir / "r.mp4", kFakeMp4);
  const auto facts = verify_result(dir / "r.mp4", 4.5, 0.1, prober_saying(4.53));
  EXPECT_DOUBLE_EQ(facts.duration_s, 4.53);
}

TEST(OutboxDelivery, VerifyRejectsWrongLengthNonMp4AndAudioOnly) {
  TempDir dir;
  write(dir / "r.mp4", kFakeMp4);
  write(dir / "html.mp4", "<html>error page</html>");
  // A complete file of the wrong length comes again on every download: final at once.
  try {
    verify_result(dir / "r.mp4", 10, 0.1, prober_saying(4.5));
    FAIL() << "a result shorter than the plan was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.reason_code(), "result_too_short");
    EXPECT_FALSE(e.is_transient());
    EXPECT_EQ(e.hint().find("download"), std::string::npos) << "no promise to download again";
  }
  try {
    verify_result(dir / "r.mp4", 2, 0.1, prober_saying(4.5));
    FAIL() << "a result longer than the plan was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.reason_code(), "result_too_long");
    EXPECT_FALSE(e.is_transient());
  }
  // A broken transfer is worth another download.
  try {
    verify_result(dir / "html.mp4", 0, 0.1, prober_saying(1));
    FAIL() << "an HTML page was accepted as a video";
  } catch (const Error& e) {
    EXPECT_EQ(e.reason_code(), "result_invalid");
    EXPECT_TRUE(e.is_transient());
  }
  EXPECT_THROW(verify_result(dir / "r.mp4", 0, 0.1, prober_saying(1, false)), Error);
  const VideoProber broken = [](const std::filesystem::path&) -> VideoFacts {
    throw Error("not_decodable", "cannot decode");
  };
  EXPECT_THROW(verify_result(dir / "r.mp4", 0, 0.1, broken), Error);
}

TEST(OutboxDelivery, DeliverPlacesVideoAndSidecarWithMatchingNames) {
  TempDir dir;
  write(dir / "spool/result.mp4", kFakeMp4);
  write(dir / "outbox/clip.lipsync.mp4", "another job's result");
  Sidecar sidecar;
  sidecar.job_id = "J1";
  sidecar.request_id = "req-1";
  sidecar.endpoint = "fal-ai/sync-lipsync";
  sidecar.model = "lipsync-1.9.0-beta";
  sidecar.sync_mode = "bounce";
  sidecar.sync_mode_reason = "audio longer";
  sidecar.stage_seconds["upload"] = 1.5;
  const auto delivered =
      deliver_result(dir / "spool/result.mp4", dir / "outbox", "clip.lipsync.mp4", sidecar);
  EXPECT_EQ(delivered.video, dir / "outbox/clip.lipsync-2.mp4");
  EXPECT_EQ(delivered.sidecar, dir / "outbox/clip.lipsync-2.json");
  const auto json = read_json(delivered.sidecar);
  EXPECT_EQ(json.at("request_id").as_string(), "req-1");
  EXPECT_EQ(json.at("sync_mode").as_string(), "bounce");
  EXPECT_EQ(json.at("sync_mode_reason").as_string(), "audio longer");
  EXPECT_DOUBLE_EQ(json.at("stage_seconds").at("upload").as_double(), 1.5);
  EXPECT_FALSE(json.at("delivered_at").as_string().empty());

  // Repeating the delivery (a crash before it was recorded) does not make a second copy.
  const auto again =
      deliver_result(dir / "spool/result.mp4", dir / "outbox", "clip.lipsync.mp4", sidecar);
  EXPECT_EQ(again.video, delivered.video);
  EXPECT_FALSE(std::filesystem::exists(dir / "outbox/clip.lipsync-3.mp4"));
}

TEST(OutboxDelivery, ALongFormSidecarListsItsSegmentsInOrder) {
  TempDir dir;
  write(dir / "spool/result.mp4", kFakeMp4);
  Sidecar sidecar;
  sidecar.job_id = "J3";
  sidecar.segments = {
      {.index = 1,
       .job_id = "J3-s01",
       .request_id = "req-a",
       .start_s = 0,
       .end_s = 512.44,
       .estimated_cost_usd = 0.43,
       .cut_reason = "pause 0.62 s at 8:32.4",
       .stage_seconds = {{"fal", 12.5}}},
      {.index = 2, .job_id = "J3-s02", .request_id = "req-b", .start_s = 512.44, .end_s = 1500}};
  const auto delivered =
      deliver_result(dir / "spool/result.mp4", dir / "outbox", "talk.lipsync.mp4", sidecar);
  const auto json = read_json(delivered.sidecar);
  const auto& segments = json.at("segments").as_array();
  ASSERT_EQ(segments.size(), 2u);
  EXPECT_EQ(segments[0].at("index").as_int64(), 1);
  EXPECT_EQ(segments[0].at("request_id").as_string(), "req-a");
  EXPECT_DOUBLE_EQ(segments[0].at("end_s").as_double(), 512.44);
  EXPECT_DOUBLE_EQ(segments[0].at("estimated_cost_usd").as_double(), 0.43);
  EXPECT_EQ(segments[0].at("cut_reason").as_string(), "pause 0.62 s at 8:32.4");
  EXPECT_DOUBLE_EQ(segments[0].at("stage_seconds").at("fal").as_double(), 12.5);
  EXPECT_EQ(segments[1].at("job_id").as_string(), "J3-s02");
  EXPECT_DOUBLE_EQ(segments[1].at("start_s").as_double(), 512.44);
}

TEST(OutboxDelivery, AnOrdinarySidecarHasNoSegmentsKey) {
  TempDir dir;
  write(dir / "spool/result.mp4", kFakeMp4);
  const auto delivered =
      deliver_result(dir / "spool/result.mp4", dir / "outbox", "one.lipsync.mp4", Sidecar{});
  EXPECT_FALSE(read_json(delivered.sidecar).contains("segments"));
}

TEST(OutboxDelivery, RejectMovesInputsAndWritesTheReport) {
  TempDir dir;
  write(dir / "spool/J2/talk me.mp4", "video");
  write(dir / "spool/J2/talk me.wav", "audio");
  ErrorReport report;
  report.job_id = "J2";
  report.stage = "prepare";
  report.reason_code = "no_face";
  report.message = "no face found in talk me.mp4";
  report.hint = "use a clip with one visible face";
  const auto path = reject_inputs({{dir / "spool/J2/talk me.mp4", "talk me.mp4"},
                                   {dir / "spool/J2/talk me.wav", "talk me.wav"}},
                                  dir / "error", "talk me", report);
  EXPECT_EQ(path, dir / "error/talk me.error.json");
  EXPECT_TRUE(std::filesystem::exists(dir / "error/talk me.mp4"));
  EXPECT_TRUE(std::filesystem::exists(dir / "error/talk me.wav"));
  const auto json = read_json(path);
  EXPECT_EQ(json.at("reason_code").as_string(), "no_face");
  EXPECT_EQ(json.at("stage").as_string(), "prepare");
  EXPECT_EQ(json.at("files").as_array().size(), 2u);
  EXPECT_FALSE(json.contains("request_id"));
}

TEST(OutboxDelivery, ArchiveKeepsSubfoldersAndSkipsAlreadyMovedInputs) {
  TempDir dir;
  write(dir / "spool/J3/a.mp4", "video");
  const auto archived = archive_inputs(
      {{dir / "spool/J3/a.mp4", "take1/a.mp4"}, {dir / "spool/J3/gone.wav", "take1/gone.wav"}},
      dir / "done");
  ASSERT_EQ(archived.files.size(), 1u);
  EXPECT_EQ(archived.files[0], dir / "done/take1/a.mp4");
}

TEST(OutboxDelivery, ArchiveNeverLeavesItsFolderAndMovesLinksAsLinks) {
  TempDir dir;
  write(dir / "outside.mp4", "not ours");
  std::filesystem::create_directories(dir / "inbox");
  std::filesystem::create_symlink(dir / "outside.mp4", dir / "inbox/link.mp4");
  write(dir / "inbox/x.wav", "audio");
  const auto archived = archive_inputs(
      {{dir / "inbox/link.mp4", "link.mp4"}, {dir / "inbox/x.wav", "../x.wav"}}, dir / "error");
  ASSERT_EQ(archived.files.size(), 2u);
  EXPECT_TRUE(std::filesystem::is_symlink(dir / "error/link.mp4"));
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(dir / "inbox/link.mp4")));
  EXPECT_EQ(archived.files[1], dir / "error/x.wav");  // "../x.wav" stays inside error/
  std::ifstream outside(dir / "outside.mp4");
  std::string text((std::istreambuf_iterator<char>(outside)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "not ours");
}

TEST(OutboxDelivery, OutputPatternExpandsTheStem) {
  EXPECT_EQ(output_name("{stem}.lipsync.mp4", "clip"), "clip.lipsync.mp4");
  EXPECT_EQ(output_name("synced/{stem}-{stem}.mp4", "a"), "synced/a-a.mp4");
  EXPECT_EQ(output_name("fixed.mp4", "a"), "fixed.mp4");
}

TEST(OutboxDelivery, NamesMadeFromALongStemFitWithTheirSuffix) {
  const std::string stem(251, 'x');  // "stem.mp4" was a valid 255-byte input name
  const auto name = output_name("{stem}.lipsync.mp4", stem);
  EXPECT_LE(name.size() + 1, 255u);  // room for the sidecar's ".json"
  EXPECT_TRUE(name.ends_with("x.lipsync.mp4"));
  TempDir dir;
  write(dir / "spool/J4/v.mp4", "video");
  ErrorReport report;
  report.reason_code = "no_face";
  const auto path = reject_inputs({{dir / "spool/J4/v.mp4", "v.mp4"}}, dir / "error", stem, report);
  EXPECT_LE(path.filename().string().size(), 255u);
  EXPECT_TRUE(path.filename().string().ends_with(".error.json"));
  EXPECT_TRUE(std::filesystem::exists(path));
}

Sidecar sidecar_of(const std::string& job_id) {
  Sidecar sidecar;
  sidecar.job_id = job_id;
  sidecar.request_id = "req-" + job_id;
  return sidecar;
}

TEST(OutboxDelivery, AVideoNamedLikeASidecarNeverOverwritesItsOwnVideo) {
  TempDir dir;
  write(dir / "spool/result.mp4", kFakeMp4);
  const auto delivered =
      deliver_result(dir / "spool/result.mp4", dir / "outbox", "result.json", sidecar_of("J1"));
  EXPECT_NE(delivered.video, delivered.sidecar);
  EXPECT_EQ(test::read_text(delivered.video), kFakeMp4);
  EXPECT_EQ(read_json(delivered.sidecar).at("job_id").as_string(), "J1");
}

TEST(OutboxDelivery, AnotherJobsVideoAndSidecarAreNeverReplaced) {
  TempDir dir;
  write(dir / "outbox/t0.lipsync.mp4", "t0's video");
  write(dir / "outbox/t0.lipsync.json", "t0's sidecar");
  write(dir / "spool/result.mp4", kFakeMp4);
  // Another extension, the same sidecar name: the pair moves on to a free number together.
  const auto delivered =
      deliver_result(dir / "spool/result.mp4", dir / "outbox", "t0.lipsync.mov", sidecar_of("J2"));
  EXPECT_EQ(delivered.video, dir / "outbox/t0.lipsync-2.mov");
  EXPECT_EQ(delivered.sidecar, dir / "outbox/t0.lipsync-2.json");
  EXPECT_EQ(test::read_text(dir / "outbox/t0.lipsync.mp4"), "t0's video");
  EXPECT_EQ(test::read_text(dir / "outbox/t0.lipsync.json"), "t0's sidecar");
  EXPECT_FALSE(std::filesystem::exists(dir / "outbox/t0.lipsync.mov"));
}

TEST(OutboxDelivery, AnOutboxThatCannotBeWrittenBlocksTheDeliveryAndKeepsTheResult) {
  TempDir dir;
  write(dir / "spool/result.mp4", kFakeMp4);
  write(dir / "spool/in.wav", "audio");
  write(dir / "not a folder", "a file where the outbox should be");
  Delivery delivery{.verified = dir / "spool/result.mp4",
                    .name = {.requested = "clip.lipsync.mp4"},
                    .sidecar = sidecar_of("J3"),
                    .inputs = {{dir / "spool/in.wav", "in.wav"}},
                    .outbox = dir / "not a folder/outbox",
                    .done = dir / "done"};
  try {
    deliver(delivery);
    FAIL() << "delivered into a path that cannot exist";
  } catch (const Error& e) {
    EXPECT_EQ(e.reason_code(), kDeliveryBlockedReason);
    EXPECT_TRUE(e.is_transient());
    EXPECT_NE(e.hint().find("writable"), std::string::npos) << e.hint();
  }
  EXPECT_EQ(test::read_text(dir / "spool/result.mp4"), kFakeMp4);
  EXPECT_TRUE(std::filesystem::exists(dir / "spool/in.wav"));
  // Fixed: the same call delivers, the inputs go to done/.
  delivery.outbox = dir / "outbox";
  const auto delivered = deliver(delivery);
  EXPECT_EQ(delivered.video, dir / "outbox/clip.lipsync.mp4");
  EXPECT_EQ(delivered.sidecar, dir / "outbox/clip.lipsync.json");
  ASSERT_EQ(delivered.archived.size(), 1u);
  EXPECT_EQ(delivered.archived[0], dir / "done/in.wav");
}

TEST(OutboxDelivery, TheWantedNameIsTheRequestedFileNameElseThePattern) {
  EXPECT_EQ(file_name_for({.pattern = "{stem}.lipsync.mp4", .stem = "clip"}), "clip.lipsync.mp4");
  EXPECT_EQ(file_name_for({.requested = "", .pattern = "{stem}.x.mp4", .stem = "a"}), "a.x.mp4");
  // Only ever a file name: an output never lands outside the outbox.
  EXPECT_EQ(file_name_for({.requested = "../escape/final take.mp4", .pattern = "{stem}.mp4"}),
            "final take.mp4");
  EXPECT_EQ(file_name_for({.pattern = "synced/{stem}.mp4", .stem = "a"}), "a.mp4");
}

// The one operation: the result and its sidecar under one free number, another job's files
// untouched, the inputs archived; repeated after a crash, it finds its own files again.
TEST(OutboxDelivery, OneDeliveryNeverOverwritesAndIsRepeatable) {
  TempDir dir;
  write(dir / "spool/result.mp4", kFakeMp4);
  write(dir / "spool/clip.mp4", "video");
  write(dir / "outbox/clip.lipsync.mp4", "another job's video");
  const Delivery delivery{.verified = dir / "spool/result.mp4",
                          .name = {.pattern = "{stem}.lipsync.mp4", .stem = "clip"},
                          .sidecar = sidecar_of("J5"),
                          .inputs = {{dir / "spool/clip.mp4", "clip.mp4"}},
                          .outbox = dir / "outbox",
                          .done = dir / "done"};
  const auto first = deliver(delivery);
  EXPECT_EQ(first.video, dir / "outbox/clip.lipsync-2.mp4");
  EXPECT_EQ(first.sidecar, dir / "outbox/clip.lipsync-2.json");
  EXPECT_EQ(test::read_text(dir / "outbox/clip.lipsync.mp4"), "another job's video");
  EXPECT_FALSE(std::filesystem::exists(dir / "outbox/clip.lipsync.json"));
  EXPECT_TRUE(std::filesystem::exists(dir / "done/clip.mp4"));
  const auto again = deliver(delivery);  // the record was not written before a crash
  EXPECT_EQ(again.video, first.video);
  EXPECT_EQ(again.sidecar, first.sidecar);
  EXPECT_FALSE(std::filesystem::exists(dir / "outbox/clip.lipsync-3.mp4"));
}

TEST(OutboxDelivery, ADiscardedResultTakesItsStagedSidecarAlong) {
  TempDir dir;
  write(dir / "spool/result.mp4", kFakeMp4);
  deliver_result(dir / "spool/result.mp4", dir / "outbox", "a.mp4", sidecar_of("J4"));
  discard_result(dir / "spool/result.mp4");
  EXPECT_TRUE(std::filesystem::is_empty(dir / "spool"));
}

}  // namespace
}  // namespace lipsyncd::outbox
