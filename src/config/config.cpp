#include "lipsyncd/config/config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include "lipsyncd/core/error.hpp"

extern char** environ;

namespace lipsyncd {
namespace {

[[noreturn]] void bad_config(const std::string& message) {
  throw Error("bad_config", message, "fix the configuration file; see config/lipsyncd.toml");
}

// Reads the keys of one [section], remembering which it saw so leftovers can be reported.
class SectionReader {
 public:
  // `accepted`, when given, collects "section.key" for every key this reader looks for.
  SectionReader(const toml::table& root, std::string name,
                std::set<std::string>* accepted = nullptr)
      : name_(std::move(name)), accepted_(accepted) {
    if (const toml::node* node = root.get(name_)) {
      table_ = node->as_table();
      if (table_ == nullptr) bad_config("[" + name_ + "] must be a table");
    }
  }

  template <typename T>
  void read(const std::string& key, T& target) {
    const toml::node* node = find(key);
    if (node == nullptr) return;
    if constexpr (std::is_same_v<T, bool>) {
      target = expect<bool>(*node, key, "true or false");
    } else if constexpr (std::is_integral_v<T>) {
      const auto value = expect<std::int64_t>(*node, key, "a whole number");
      if (value < 0) bad_config(where(key) + " must not be negative");
      target = static_cast<T>(value);
    } else if constexpr (std::is_floating_point_v<T>) {
      if (const auto integer = node->value_exact<std::int64_t>()) {
        target = static_cast<T>(*integer);
      } else {
        target = expect<double>(*node, key, "a number");
      }
      if (target < 0 && key.find("dbfs") == std::string::npos) {
        bad_config(where(key) + " must not be negative");
      }
    } else if constexpr (std::is_same_v<T, std::string>) {
      target = expect<std::string>(*node, key, "a string");
    } else if constexpr (std::is_same_v<T, std::filesystem::path>) {
      target = expect<std::string>(*node, key, "a string (a path)");
    }
  }

  void read_sync_mode(const std::string& key, SyncMode& target) {
    std::string name(to_string(target));
    read(key, name);
    target = sync_mode_named(key, name);
  }

  void read_optional_sync_mode(const std::string& key, std::optional<SyncMode>& target) {
    std::string name;
    read(key, name);
    if (!name.empty()) target = sync_mode_named(key, name);
  }

  void reject_unknown_keys() const {
    if (table_ == nullptr) return;
    for (const auto& [key, value] : *table_) {
      if (!seen_.contains(std::string(key.str()))) {
        bad_config("unknown key " + where(std::string(key.str())));
      }
    }
  }

 private:
  const toml::node* find(const std::string& key) {
    seen_.insert(key);
    if (accepted_ != nullptr) accepted_->insert(name_ + "." + key);
    return table_ == nullptr ? nullptr : table_->get(key);
  }

  template <typename T>
  T expect(const toml::node& node, const std::string& key, const char* what) const {
    const auto value = node.value_exact<T>();
    if (!value) bad_config(where(key) + " must be " + what);
    return *value;
  }

  SyncMode sync_mode_named(const std::string& key, const std::string& name) const {
    const auto mode = parse_sync_mode(name);
    if (!mode) {
      bad_config(where(key) + " = \"" + name +
                 "\" is not a sync mode (cut_off, loop, bounce, silence, remap)");
    }
    return *mode;
  }

  std::string where(const std::string& key) const { return "[" + name_ + "] " + key; }

  std::string name_;
  const toml::table* table_ = nullptr;
  std::set<std::string> seen_;
  std::set<std::string>* accepted_ = nullptr;
};

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

void read_sections(const toml::table& root, Config& c, std::set<std::string>* accepted = nullptr) {
  static const std::set<std::string> kSections = {"paths",  "fal",     "media",  "face",
                                                  "policy", "budget",  "intake", "daemon",
                                                  "log",    "metrics", "prices"};
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

// Where the endpoint and the model came from, for a message that points at the right line.
struct FalChoiceSource {
  std::optional<std::int64_t> model_line;
  std::optional<std::int64_t> endpoint_line;
  bool endpoint_from_environment = false;
};

// The configured endpoint + model must exist before anything is uploaded or paid; the rate
// of that pair becomes the default estimate's.
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

// "section" and "section.key" for everything the file sets (read_sections() has already
// refused anything unknown).
std::set<std::string> keys_in(const toml::table& root) {
  std::set<std::string> keys;
  for (const auto& [section, node] : root) {
    keys.insert(std::string(section.str()));
    if (const auto* table = node.as_table()) {
      for (const auto& [key, value] : *table) {
        keys.insert(std::string(section.str()) + "." + std::string(key.str()));
      }
    }
  }
  return keys;
}

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

void validate(const Config& c) {
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

std::string read_key_file(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) bad_config("cannot read [fal] key_file " + file.string());
  std::string key;
  std::getline(in, key);
  while (!key.empty() && (key.back() == '\r' || key.back() == ' ')) key.pop_back();
  return key;
}

void apply_environment(Config& c, const Environment& env) {
  const auto get = [&env](const char* name) -> std::string {
    const auto it = env.find(name);
    return it == env.end() ? std::string() : it->second;
  };
  if (const auto endpoint = get("FAL_VIDEO_TO_VIDEO_LIPSYNC"); !endpoint.empty()) {
    c.fal.endpoint = endpoint;
  }
  if (const auto key = get("FAL_KEY"); !key.empty()) {
    c.fal.credentials = key;
  } else if (!get("FAL_KEY_ID").empty() && !get("FAL_KEY_SECRET").empty()) {
    c.fal.credentials = get("FAL_KEY_ID") + ":" + get("FAL_KEY_SECRET");
  } else if (!c.fal.key_file.empty()) {
    c.fal.credentials = read_key_file(c.fal.key_file);
  } else if (const auto dir = get("CREDENTIALS_DIRECTORY"); !dir.empty()) {
    // systemd's LoadCredential=fal_key:... puts the key here.
    const auto file = std::filesystem::path(dir) / "fal_key";
    if (std::filesystem::exists(file)) c.fal.credentials = read_key_file(file);
  }
}

void resolve_paths(Config& c, const std::filesystem::path& base_dir) {
  for (auto* path :
       {&c.paths.inbox, &c.paths.outbox, &c.paths.done, &c.paths.error, &c.paths.state,
        &c.fal.ca_file, &c.fal.key_file, &c.log.json_file, &c.face.ssd_model, &c.face.ssd_graph}) {
    if (!path->empty() && path->is_relative()) *path = base_dir / *path;
  }
  if (c.face.ssd_graph.empty() && !c.face.ssd_model.empty()) {
    c.face.ssd_graph = c.face.ssd_model.parent_path() / "opencv_face_detector.pbtxt";
  }
}

}  // namespace

Environment current_environment() {
  Environment env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const auto equals = text.find('=');
    if (equals != std::string_view::npos) {
      env.emplace(std::string(text.substr(0, equals)), std::string(text.substr(equals + 1)));
    }
  }
  return env;
}

Config parse_config(std::string_view toml_text, const std::filesystem::path& base_dir,
                    const Environment& env) {
  Config config;
  FalChoiceSource source;
  try {
    const toml::table root = toml::parse(toml_text);
    read_sections(root, config);
    config.file_keys = keys_in(root);
    if (const auto* model = root["fal"]["model"].node()) {
      source.model_line = model->source().begin.line;
    }
    if (const auto* endpoint = root["fal"]["endpoint"].node()) {
      source.endpoint_line = endpoint->source().begin.line;
    }
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << "line " << e.source().begin.line << ", column " << e.source().begin.column;
    bad_config("the configuration is not valid TOML (" + where.str() +
               "): " + std::string(e.description()));
  }
  resolve_paths(config, base_dir);
  apply_environment(config, env);
  source.endpoint_from_environment =
      env.contains("FAL_VIDEO_TO_VIDEO_LIPSYNC") && !env.at("FAL_VIDEO_TO_VIDEO_LIPSYNC").empty();
  validate(config);
  validate_model(config, source);
  return config;
}

Config load_config(const std::filesystem::path& file, const Environment& env) {
  std::ifstream in(file);
  if (!in) bad_config("cannot read configuration file " + file.string());
  std::stringstream text;
  text << in.rdbuf();
  const auto base = std::filesystem::absolute(file).parent_path();
  return parse_config(text.str(), base, env);
}

std::set<std::string> accepted_keys() {
  Config ignored;
  std::set<std::string> keys;
  read_sections(toml::table{}, ignored, &keys);
  return keys;
}

Config default_config(const Environment& env) {
  return parse_config("", std::filesystem::current_path(), env);
}

void check_reload(const Config& running, const Config& fresh) {
  const bool sets_a_key = std::any_of(fresh.file_keys.begin(), fresh.file_keys.end(),
                                      [](const std::string& k) { return k.find('.') != k.npos; });
  if (!sets_a_key) {
    bad_config(
        "the file sets no key (empty, or only comments and empty tables); a reload would "
        "replace every setting, the budget caps included, with its default");
  }
  for (const auto& entry : running.file_keys) {
    if (entry.find('.') == std::string::npos && !fresh.file_keys.contains(entry)) {
      bad_config("the file has no [" + entry +
                 "] section any more (a truncated or half-written file?); keep at least the "
                 "section header, or restart to drop it on purpose");
    }
  }
  const auto keeps_cap = [&](const char* key, double running_cap) {
    if (running_cap > 0 && !fresh.file_keys.contains(std::string("budget.") + key)) {
      bad_config("[budget] " + std::string(key) + " is missing: the running cap of " +
                 std::to_string(running_cap) + " USD would be dropped silently; write " + key +
                 " = 0 to remove the cap on purpose");
    }
  };
  keeps_cap("daily_usd", running.budget.daily_usd);
  keeps_cap("monthly_usd", running.budget.monthly_usd);
}

std::vector<std::string> keep_restart_only_settings(const Config& running, Config& fresh) {
  std::vector<std::string> kept;
  if (fresh.paths != running.paths) {
    fresh.paths = running.paths;
    kept.emplace_back("[paths] changes take effect only after a restart; keeping the old");
  }
  const auto connection = [](auto& fal) {
    return std::tie(fal.queue_url, fal.rest_url, fal.endpoint, fal.credentials, fal.ca_file,
                    fal.key_file);
  };
  if (connection(fresh.fal) != connection(running.fal)) {
    connection(fresh.fal) = connection(running.fal);
    kept.emplace_back(
        "fal URLs, endpoint, key and CA file take effect only after a restart; keeping the old");
  }
  if (fresh.log.sink != running.log.sink || fresh.log.json_file != running.log.json_file) {
    fresh.log.sink = running.log.sink;
    fresh.log.json_file = running.log.json_file;
    kept.emplace_back("[log] sink and json_file take effect only after a restart; keeping the old");
  }
  return kept;
}

}  // namespace lipsyncd

namespace lipsyncd {

ModelChoice model_choice(const Config& config, std::string_view job_model) {
  return resolve_model(config.fal.endpoint, job_model.empty() ? config.fal.model : job_model,
                       config.prices);
}

void choose_model(Config& config, std::string_view endpoint, std::string_view model) {
  if (!endpoint.empty()) config.fal.endpoint = std::string(endpoint);
  if (!model.empty()) config.fal.model = std::string(model);
  config.policy.price_per_minute_usd = model_choice(config).usd_per_minute;
}

}  // namespace lipsyncd
