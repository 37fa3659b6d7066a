// The configuration file's sections, key by key, and [prices]; accepted_keys() lists what
// this reads.

#include <set>
#include <string>

#include "config_steps.hpp"
#include "section_reader.hpp"

namespace lipsyncd {
namespace {

// [face] dnn_model named a cv::FaceDetectorYN model, which never ran: no such model loads in
// Debian's OpenCV 4.6. The empty value that older sample configurations carry is harmless and
// passes; a path is refused, because the user expects a DNN detector that would not run.
void refuse_retired_dnn_model(SectionReader& face) {
  std::filesystem::path retired;
  face.read("dnn_model", retired);
  if (!retired.empty()) {
    bad_config(
        "[face] dnn_model is no longer supported (its FaceDetectorYN models do not load in "
        "OpenCV 4.6); remove it and set [face] detector = \"ssd\" with [face] ssd_model = "
        "\"/path/to/opencv_face_detector_uint8.pb\" (see the README's face check section)");
  }
}

double price_value(const toml::node& node, const std::string& where) {
  std::optional<double> value = node.value_exact<double>();
  if (const auto integer = node.value_exact<std::int64_t>()) value = static_cast<double>(*integer);
  if (!value || *value < 0) bad_config(where + " must be a price in USD per minute (e.g. 0.70)");
  return *value;
}

// [prices]: "ENDPOINT" = USD per minute (every model), or "ENDPOINT" = { MODEL = USD, ... }.
// Only catalog endpoints and their models: a misspelt key would otherwise price nothing.
void read_prices(const toml::table& root, PriceOverrides& prices) {
  const toml::node* section = root.get("prices");
  if (section == nullptr) return;
  const toml::table* table = section->as_table();
  if (table == nullptr) bad_config("[prices] must be a table");
  for (const auto& [key, value] : *table) {
    const std::string endpoint_id(key.str());
    const CatalogEndpoint* endpoint = find_endpoint(endpoint_id);
    const std::string where = "[prices] \"" + endpoint_id + "\"";
    if (endpoint == nullptr) {
      bad_config(where + " is not a sync-lipsync endpoint (known: " + known_endpoints() + ")");
    }
    if (const toml::table* per_model = value.as_table()) {
      if (!endpoint->has_model_field()) {
        bad_config(where + " has no model field: give one price, e.g. \"" + endpoint_id +
                   "\" = 8.00");
      }
      for (const auto& [model, price] : *per_model) {
        const std::string name(model.str());
        if (endpoint->find_model(name) == nullptr) {
          bad_config(where + " names model \"" + name + "\", which is not one of " +
                     endpoint->allowed_models());
        }
        prices.push_back({endpoint_id, name, price_value(price, where + "." + name)});
      }
    } else {
      prices.push_back({endpoint_id, {}, price_value(value, where)});
    }
  }
}

}  // namespace

void read_sections(const toml::table& root, Config& c, std::set<std::string>* accepted) {
  static const std::set<std::string> kSections = {
      "paths",  "store",  "fleet",  "fal",    "media", "longform", "face",
      "policy", "budget", "intake", "daemon", "log",   "metrics",  "prices"};
  for (const auto& [key, value] : root) {
    if (!kSections.contains(std::string(key.str()))) {
      bad_config("unknown section [" + std::string(key.str()) + "]");
    }
  }

  SectionReader paths(root, "paths", accepted);
  paths.read("inbox", c.paths.inbox);
  paths.read("outbox", c.paths.outbox);
  paths.read("done", c.paths.done);
  paths.read("error", c.paths.error);
  paths.read("state", c.paths.state);
  paths.reject_unknown_keys();

  SectionReader store(root, "store", accepted);
  store.read("url", c.store.url);
  store.read("password_file", c.store.password_file);
  store.reject_unknown_keys();

  SectionReader fleet(root, "fleet", accepted);
  fleet.read("node", c.fleet.node);
  fleet.read("lease_s", c.fleet.lease_s);
  fleet.reject_unknown_keys();

  SectionReader fal(root, "fal", accepted);
  fal.read("queue_url", c.fal.queue_url);
  fal.read("rest_url", c.fal.rest_url);
  fal.read("endpoint", c.fal.endpoint);
  fal.read("model", c.fal.model);
  fal.read("ca_file", c.fal.ca_file);
  fal.read("key_file", c.fal.key_file);
  fal.read("connect_timeout_s", c.fal.connect_timeout_s);
  fal.read("io_timeout_s", c.fal.io_timeout_s);
  fal.read("total_timeout_s", c.fal.total_timeout_s);
  fal.read("poll_interval_ms", c.fal.poll_interval_ms);
  fal.read("max_poll_interval_ms", c.fal.max_poll_interval_ms);
  fal.read("stream_status", c.fal.stream_status);
  fal.read("max_in_flight", c.fal.max_in_flight);
  fal.reject_unknown_keys();

  SectionReader media(root, "media", accepted);
  media.read("max_video_duration_s", c.media.max_video_duration_s);
  media.read("min_video_duration_s", c.media.min_video_duration_s);
  media.read("min_audio_duration_s", c.media.min_audio_duration_s);
  media.read("max_height", c.media.max_height);
  media.read("audio_sample_rate", c.media.audio_sample_rate);
  media.read("x264_preset", c.media.x264_preset);
  media.read("x264_crf", c.media.x264_crf);
  media.read("silence_threshold_dbfs", c.media.silence_threshold_dbfs);
  media.reject_unknown_keys();

  SectionReader longform(root, "longform", accepted);
  longform.read("enabled", c.longform.enabled);
  longform.read("max_segment_s", c.longform.max_segment_s);
  longform.read("max_total_s", c.longform.max_total_s);
  longform.read("min_pause_s", c.longform.min_pause_s);
  longform.read("pause_below_speech_db", c.longform.pause_below_speech_db);
  longform.reject_unknown_keys();

  SectionReader face(root, "face", accepted);
  face.read("samples_per_second", c.face.samples_per_second);
  face.read("min_samples", c.face.min_samples);
  face.read("max_samples", c.face.max_samples);
  face.read("detect_width", c.face.detect_size);  // the old name, when it meant the width
  face.read("detect_size", c.face.detect_size);
  face.read("min_visible_ratio", c.face.min_visible_ratio);
  face.read("min_face_height_ratio", c.face.min_face_height_ratio);
  face.read("multiple_faces", c.face.multiple_faces);
  face.read("detector", c.face.detector);
  face.read("cascade_dir", c.face.cascade_dir);
  face.read("ssd_model", c.face.ssd_model);
  face.read("ssd_graph", c.face.ssd_graph);
  refuse_retired_dnn_model(face);
  face.reject_unknown_keys();

  SectionReader policy(root, "policy", accepted);
  policy.read("tolerance_s", c.policy.tolerance_s);
  policy.read("tolerance_ratio", c.policy.tolerance_ratio);
  policy.read("short_video_s", c.policy.short_video_s);
  policy.read_sync_mode("audio_longer", c.policy.audio_longer);
  policy.read_sync_mode("video_longer", c.policy.video_longer);
  policy.read_optional_sync_mode("forced", c.policy.forced);
  if (const auto* table = root["policy"].as_table();
      table && table->contains("price_per_minute_usd")) {
    bad_config(
        "[policy] price_per_minute_usd is gone: prices come from the endpoint catalog; "
        "override one with [prices], e.g. \"fal-ai/sync-lipsync\" = 0.70");
  }
  policy.reject_unknown_keys();

  SectionReader budget(root, "budget", accepted);
  budget.read("daily_usd", c.budget.daily_usd);
  budget.read("monthly_usd", c.budget.monthly_usd);
  budget.reject_unknown_keys();

  SectionReader intake(root, "intake", accepted);
  intake.read("settle_s", c.intake.settle_s);
  intake.read("rescan_interval_s", c.intake.rescan_interval_s);
  intake.read("partner_wait_s", c.intake.partner_wait_s);
  intake.read("duplicate_window_h", c.intake.duplicate_window_h);
  intake.read("duplicate_in_flight", c.intake.duplicate_in_flight);
  intake.read("output_pattern", c.intake.output_pattern);
  intake.reject_unknown_keys();

  SectionReader daemon(root, "daemon", accepted);
  daemon.read("max_parallel_prepare", c.daemon.max_parallel_prepare);
  daemon.read("shutdown_timeout_s", c.daemon.shutdown_timeout_s);
  daemon.read("heartbeat_s", c.daemon.heartbeat_s);
  daemon.read("retry_base_s", c.daemon.retry_base_s);
  daemon.read("retry_max_s", c.daemon.retry_max_s);
  daemon.read("max_attempts", c.daemon.max_attempts);
  daemon.reject_unknown_keys();

  SectionReader log(root, "log", accepted);
  log.read("level", c.log.level);
  log.read("sink", c.log.sink);
  log.read("json_file", c.log.json_file);
  log.read("json_max_bytes", c.log.json_max_bytes);
  log.read("json_max_files", c.log.json_max_files);
  log.reject_unknown_keys();

  SectionReader metrics(root, "metrics", accepted);
  metrics.read("listen", c.metrics.listen);
  metrics.reject_unknown_keys();

  read_prices(root, c.prices);
}

std::set<std::string> accepted_keys() {
  Config ignored;
  std::set<std::string> keys;
  read_sections(toml::table{}, ignored, &keys);
  return keys;
}

}  // namespace lipsyncd
