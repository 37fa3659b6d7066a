#pragma once
// The one place that knows every configuration key, its default and its environment override.
// Modules receive the section they need; nothing else parses configuration.
// config/lipsyncd.toml documents every key with the defaults below (a unit test checks that
// the two agree).

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "lipsyncd/core/endpoint_catalog.hpp"
#include "lipsyncd/core/sync_mode.hpp"

namespace lipsyncd {

struct PathsConfig {
  std::filesystem::path inbox = "inbox";
  std::filesystem::path outbox = "outbox";
  std::filesystem::path done = "done";
  std::filesystem::path error = "error";
  std::filesystem::path state = "state";  // spool folders and the job store

  bool operator==(const PathsConfig&) const = default;
};

struct FalConfig {
  std::string queue_url = "https://queue.fal.run";
  std::string rest_url = "https://rest.fal.ai";
  std::string endpoint = "fal-ai/sync-lipsync";  // FAL_VIDEO_TO_VIDEO_LIPSYNC overrides
  std::string model;               // empty: the endpoint's default (endpoint_catalog.hpp)
  std::filesystem::path ca_file;   // extra CA bundle, on top of the system store
  std::filesystem::path key_file;  // e.g. a systemd credential; FAL_KEY wins when set
  double connect_timeout_s = 10;
  double io_timeout_s = 60;       // one read or write making no progress
  double total_timeout_s = 3600;  // one whole job at fal, queue wait included
  int poll_interval_ms = 500;
  int max_poll_interval_ms = 10000;
  bool stream_status = false;  // server-sent events instead of polling
  int max_in_flight = 2;       // fal accounts start with a concurrency of 2

  // Never printed or logged. Filled from FAL_KEY, FAL_KEY_ID:FAL_KEY_SECRET or key_file.
  std::string credentials;

  bool operator==(const FalConfig&) const = default;
};

struct MediaConfig {
  double max_video_duration_s = 600;
  double min_video_duration_s = 0.1;
  double min_audio_duration_s = 0.1;
  int max_height = 1080;
  int audio_sample_rate = 0;  // 0 keeps the input's rate
  std::string x264_preset = "veryfast";
  int x264_crf = 20;
  double silence_threshold_dbfs = -50;  // peak below this means "silent audio"

  bool operator==(const MediaConfig&) const = default;
};

// Long-form jobs: a pair whose output is longer than one fal request allows (request_limit_s())
// is split at speech pauses into segments of at most max_segment_s, one request each, and the
// results are stitched. Read when a job is prepared, so a reload applies to the next job.
struct LongformConfig {
  bool enabled = true;
  double max_segment_s = 540;  // below the endpoint's limit: room for rounding and padding
  double max_total_s = 14400;  // longer outputs are refused (video_too_long / output_too_long)
  double min_pause_s = 0.3;    // the shortest gap in speech a cut may sit in
  // A pause is quieter than the speech level (the envelope's loud percentile) by this much.
  double pause_below_speech_db = 25;

  bool operator==(const LongformConfig&) const = default;
};

struct FaceConfig {
  double samples_per_second = 1.0;
  int min_samples = 8;
  int max_samples = 32;
  int detect_size = 480;           // frames are downscaled so their longer side is at most this
  double min_visible_ratio = 0.5;  // fraction of samples that must show a face
  double min_face_height_ratio = 0.06;  // median face height / frame height
  std::string multiple_faces = "warn";  // "warn" or "reject"
  // "haar": opencv-data's cascades in cascade_dir (the default: shipped with Debian).
  // "ssd": OpenCV's ResNet-10 SSD face detector, whose weights the user supplies (their terms
  // are unstated, so they are not shipped): ssd_model is opencv_face_detector_uint8.pb and
  // ssd_graph its text graph, by default opencv_face_detector.pbtxt beside ssd_model.
  std::string detector = "haar";
  std::filesystem::path cascade_dir = "/usr/share/opencv4/haarcascades";
  std::filesystem::path ssd_model;
  std::filesystem::path ssd_graph;

  bool operator==(const FaceConfig&) const = default;
};

struct PolicyConfig {
  double tolerance_s = 0.25;
  double tolerance_ratio = 0.02;
  double short_video_s = 2.0;                 // below this, longer audio loops
  SyncMode audio_longer = SyncMode::bounce;   // bounce or loop
  SyncMode video_longer = SyncMode::cut_off;  // cut_off or silence
  std::optional<SyncMode> forced;             // a fixed mode for every job
  // Not a file key: the rate of the configured endpoint + model, from the catalog or
  // [prices], filled in when the configuration is loaded (media's cost estimate uses it).
  double price_per_minute_usd = 0.70;

  bool operator==(const PolicyConfig&) const = default;
};

struct BudgetConfig {
  double daily_usd = 0;    // 0: no cap
  double monthly_usd = 0;  // 0: no cap

  bool operator==(const BudgetConfig&) const = default;
};

struct IntakeConfig {
  double settle_s = 2.0;           // size and mtime stable this long before a file is taken
  double rescan_interval_s = 30;   // 0 turns the periodic rescan off
  double partner_wait_s = 300;     // a lone video or audio waits this long for its partner
  double duplicate_window_h = 24;  // 0 turns the duplicate guard off
  // A copy of a job that is still in flight: "wait" for it and reuse its result, or "hold"
  // the copy for a person. Either way it is not paid for twice.
  std::string duplicate_in_flight = "wait";
  std::string output_pattern = "{stem}.lipsync.mp4";

  bool operator==(const IntakeConfig&) const = default;
};

struct DaemonConfig {
  int max_parallel_prepare = 1;
  double shutdown_timeout_s = 10;
  double heartbeat_s = 60;
  double retry_base_s = 30;  // deferred jobs: first retry after this, doubling
  double retry_max_s = 3600;
  int max_attempts = 10;

  bool operator==(const DaemonConfig&) const = default;
};

struct LogConfig {
  std::string level = "info";       // trace, debug, info, warn, error
  std::string sink = "auto";        // auto, stderr, journald
  std::filesystem::path json_file;  // JSON lines, rotated by size; empty: off
  std::uint64_t json_max_bytes = 10 * 1024 * 1024;
  int json_max_files = 5;

  bool operator==(const LogConfig&) const = default;
};

struct MetricsConfig {
  std::string listen;  // "127.0.0.1:9464"; empty: off

  bool operator==(const MetricsConfig&) const = default;
};

// Where the job store lives. The database password is never read from this file: libpq takes
// it from PGPASSWORD, ~/.pgpass or PGPASSFILE, or from password_file (e.g. a systemd credential).
struct StoreConfig {
  std::string url;  // empty: SQLite in [paths] state; postgresql://user@host/db: a fleet's store
  std::filesystem::path password_file;  // a pgpass(5)-format file handed to libpq as passfile

  bool operator==(const StoreConfig&) const = default;
};

struct FleetConfig {
  // This instance's name, unique within the fleet: it holds leases and its own instance lock
  // under it, and every log line carries it. Empty in the file means the host name.
  std::string node;
  int lease_s = 30;  // a silent node's jobs stay its own this long (whole seconds, at least 2)

  bool operator==(const FleetConfig&) const = default;
};

struct Config {
  PathsConfig paths;
  StoreConfig store;
  FleetConfig fleet;
  FalConfig fal;
  MediaConfig media;
  LongformConfig longform;
  FaceConfig face;
  PolicyConfig policy;
  BudgetConfig budget;
  IntakeConfig intake;
  DaemonConfig daemon;
  LogConfig log;
  MetricsConfig metrics;
  PriceOverrides prices;  // [prices]: per-minute rates replacing the catalog's

  // What the file set: "section" for every table and "section.key" for every key in it.
  // Empty for the built-in defaults. check_reload() compares the running and the new one.
  std::set<std::string> file_keys;
};

using Environment = std::map<std::string, std::string>;
Environment current_environment();

// Reads a TOML file (unknown keys and wrong types are errors, so a typo never silently falls
// back to a default), then applies the environment. Relative paths in [paths] are taken
// relative to the config file's folder. Throws lipsyncd::Error with reason "bad_config".
Config load_config(const std::filesystem::path& file, const Environment& env);
// The same from TOML text; relative paths resolve against base_dir.
Config parse_config(std::string_view toml_text, const std::filesystem::path& base_dir,
                    const Environment& env);
// Every "section.key" the file may set ([prices] entries aside, which name catalog endpoints):
// what the man page lipsyncd.toml(5) and config/lipsyncd.toml must document (a test checks).
std::set<std::string> accepted_keys();
// The most seconds of video one fal request may carry: the endpoint catalog's limit for
// [fal] endpoint, or [media] max_video_duration_s when that is lower.
double request_limit_s(const Config& config);
// Defaults plus environment, for commands run without a config file.
Config default_config(const Environment& env);

// SIGHUP: whether `fresh` (just read from the file) may replace `running`. A file that only
// parses is not enough, because every missing key silently becomes its default. Throws
// lipsyncd::Error "bad_config" when the new file
//   - sets no key at all (empty, only comments or empty tables: a file being rewritten),
//   - lacks a [section] the running file had (a truncated file), or
//   - omits a budget cap the running configuration has ([budget] daily_usd / monthly_usd > 0):
//     a cap is only removed by writing 0.
void check_reload(const Config& running, const Config& fresh);
// What a running daemon cannot change, because it was set up at start: its folders, the fal
// connection (URLs, endpoint, key, CA file), where logs go, the job store and its fleet
// identity ([store], [fleet]: the store, the node's lock and its leases are set up at start). A
// reload keeps the running values of these in `fresh`, so everything else that reads the
// configuration (the plan's model and price, the pipeline) agrees with the fal client that was
// built at start. Returns one sentence per section whose change waits for a restart.
std::vector<std::string> keep_restart_only_settings(const Config& running, Config& fresh);
// The connection string the job store gets: [store] url, plus libpq's passfile parameter when
// [store] password_file is set. Never holds a password (the url may not carry one), so it may
// be logged. Empty for SQLite.
std::string store_connection_url(const StoreConfig& store);
// The endpoint, model and rate of a job asking for `job_model` (empty: [fal] model, else the
// endpoint's default). Throws lipsyncd::Error "unknown_model" / "unknown_endpoint".
ModelChoice model_choice(const Config& config, std::string_view job_model = {});
// Points the configuration at another endpoint and/or model (command-line flags; empty
// arguments keep the current value) and re-prices it. Throws like model_choice.
void choose_model(Config& config, std::string_view endpoint, std::string_view model);

}  // namespace lipsyncd
