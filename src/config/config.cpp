#include "lipsyncd/config/config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "config_steps.hpp"
#include "section_reader.hpp"

extern char** environ;

namespace lipsyncd {
namespace {

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
  // systemd's LoadCredential=pgpass:... : the database password, as a pgpass file for libpq.
  if (!c.store.url.empty() && c.store.password_file.empty()) {
    if (const auto dir = get("CREDENTIALS_DIRECTORY"); !dir.empty()) {
      const auto file = std::filesystem::path(dir) / "pgpass";
      if (std::filesystem::exists(file)) c.store.password_file = file;
    }
  }
}

void resolve_paths(Config& c, const std::filesystem::path& base_dir) {
  for (auto* path : {&c.paths.inbox, &c.paths.outbox, &c.paths.done, &c.paths.error, &c.paths.state,
                     &c.store.password_file, &c.fal.ca_file, &c.fal.key_file, &c.log.json_file,
                     &c.face.ssd_model, &c.face.ssd_graph}) {
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
  default_node_to_host_name(config.fleet);
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

double request_limit_s(const Config& config) {
  const CatalogEndpoint* endpoint = find_endpoint(config.fal.endpoint);
  const double catalog_s =
      endpoint != nullptr ? endpoint->max_video_s : config.media.max_video_duration_s;
  return std::min(catalog_s, config.media.max_video_duration_s);
}

Config default_config(const Environment& env) {
  return parse_config("", std::filesystem::current_path(), env);
}

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
