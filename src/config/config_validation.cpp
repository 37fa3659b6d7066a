// Rules for values that parse but cannot work: unknown words, out-of-range numbers, a face
// detector whose files are missing, an endpoint + model the catalog does not have.

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "config_steps.hpp"
#include "lipsyncd/core/number_format.hpp"
#include "section_reader.hpp"

namespace lipsyncd {
namespace {

bool readable(const std::filesystem::path& file) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(file, error)) return false;
  return std::ifstream(file, std::ios::binary).good();
}

// The detector's files are checked here, not at the first job: a daemon that starts fine and
// then fails every pair on a missing model would hold work hostage.
void validate_detector(const FaceConfig& face) {
  if (face.detector != "haar" && face.detector != "ssd") {
    bad_config("[face] detector = \"" + face.detector + "\" is not a detector (haar or ssd)");
  }
  if (face.detector != "ssd") return;
  if (face.ssd_model.empty()) {
    bad_config(
        "[face] detector = \"ssd\" needs [face] ssd_model, the path of "
        "opencv_face_detector_uint8.pb (see the README's face check section)");
  }
  if (!readable(face.ssd_model)) {
    bad_config("[face] ssd_model: cannot read " + face.ssd_model.string());
  }
  if (!readable(face.ssd_graph)) {
    bad_config("[face] ssd_graph: cannot read " + face.ssd_graph.string() +
               " (the SSD's text graph; by default opencv_face_detector.pbtxt beside "
               "[face] ssd_model)");
  }
}

// A segment must fit one request; the planner needs a positive length and a whole that is
// at least one segment.
void validate_longform(const Config& c) {
  const LongformConfig& longform = c.longform;
  const double limit = request_limit_s(c);
  if (!(longform.max_segment_s > 0) || longform.max_segment_s > limit) {
    bad_config("[longform] max_segment_s = " + plain_decimal(longform.max_segment_s, 3) +
               " must be above 0 and at most " + plain_decimal(limit, 3) +
               " s, the most one request to " + c.fal.endpoint +
               " may carry (or [media] max_video_duration_s when lower); lower max_segment_s");
  }
  if (!(longform.max_total_s >= longform.max_segment_s)) {
    bad_config(
        "[longform] max_total_s = " + plain_decimal(longform.max_total_s, 3) +
        " must be at least [longform] max_segment_s = " + plain_decimal(longform.max_segment_s, 3));
  }
  if (!(longform.min_pause_s > 0) || longform.min_pause_s > 5) {
    bad_config("[longform] min_pause_s must be above 0 and at most 5 s (a pause in speech)");
  }
  if (!(longform.pause_below_speech_db > 0) || longform.pause_below_speech_db > 80) {
    bad_config("[longform] pause_below_speech_db must be above 0 and at most 80 dB");
  }
}

}  // namespace

void validate(const Config& c) {
  validate_longform(c);
  validate_store(c.store);
  validate_fleet(c.fleet);
  if (c.fal.max_in_flight < 1) bad_config("[fal] max_in_flight must be at least 1");
  if (c.daemon.max_parallel_prepare < 1) bad_config("[daemon] max_parallel_prepare must be >= 1");
  if (c.face.multiple_faces != "warn" && c.face.multiple_faces != "reject") {
    bad_config("[face] multiple_faces must be \"warn\" or \"reject\"");
  }
  if (c.face.min_visible_ratio > 1) bad_config("[face] min_visible_ratio must be at most 1");
  validate_detector(c.face);
  if (c.policy.audio_longer != SyncMode::bounce && c.policy.audio_longer != SyncMode::loop &&
      c.policy.audio_longer != SyncMode::silence) {
    bad_config("[policy] audio_longer must be bounce, loop or silence");
  }
  if (c.policy.video_longer != SyncMode::cut_off && c.policy.video_longer != SyncMode::silence) {
    bad_config("[policy] video_longer must be cut_off or silence");
  }
  if (c.intake.duplicate_in_flight != "wait" && c.intake.duplicate_in_flight != "hold") {
    bad_config("[intake] duplicate_in_flight must be \"wait\" or \"hold\"");
  }
  static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
  if (!kLevels.contains(c.log.level)) bad_config("[log] level must be trace/debug/info/warn/error");
  static const std::set<std::string> kSinks = {"auto", "stderr", "journald"};
  if (!kSinks.contains(c.log.sink)) bad_config("[log] sink must be auto, stderr or journald");
}

void validate_model(Config& c, const FalChoiceSource& source) {
  try {
    c.policy.price_per_minute_usd = model_choice(c).usd_per_minute;
  } catch (const Error& e) {
    std::string where = "[fal] model = \"" + c.fal.model + "\"";
    if (source.model_line) where += " (line " + std::to_string(*source.model_line) + ")";
    std::string endpoint = "[fal] endpoint = \"" + c.fal.endpoint + "\"";
    if (source.endpoint_from_environment) {
      endpoint = "FAL_VIDEO_TO_VIDEO_LIPSYNC=" + c.fal.endpoint;
    } else if (source.endpoint_line) {
      endpoint += " (line " + std::to_string(*source.endpoint_line) + ")";
    }
    if (e.reason_code() == "unknown_endpoint") {
      bad_config(endpoint + ": " + e.what() + "; " + e.hint());
    }
    const CatalogEndpoint* known = find_endpoint(c.fal.endpoint);
    bad_config(where + " does not belong to " + endpoint +
               "; allowed: " + (known ? known->allowed_models() : std::string("?")) +
               (known && known->has_model_field() ? " (or leave it empty for the default)" : ""));
  }
}

}  // namespace lipsyncd
