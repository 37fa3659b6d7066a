#include "claim_manifest.hpp"

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "job_record_codec.hpp"
#include "lipsyncd/core/atomic_file.hpp"
#include "time_codec.hpp"

namespace lipsyncd::spool {
namespace json = boost::json;

std::vector<SpooledFile> ClaimManifest::files() const {
  std::vector<SpooledFile> all{video, audio};
  all.insert(all.end(), extras.begin(), extras.end());
  return all;
}

void ClaimManifest::write(const std::filesystem::path& job_dir) const {
  const json::object object{
      {"id", id},
      {"node", node},
      {"name", name},
      {"source", to_string(source)},
      {"folder", folder.string()},
      {"created_at", to_millis(created_at)},
      {"options", json::parse(codec::encode(options))},
      {"inputs", json::parse(codec::encode(codec::Inputs{video, audio, extras}))},
  };
  write_file_atomically(job_dir / kFileName, json::serialize(object));
}

std::optional<ClaimManifest> ClaimManifest::read(const std::filesystem::path& job_dir) {
  std::ifstream in(job_dir / kFileName);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  const json::value value = json::parse(text.str(), ec);
  if (ec || !value.is_object()) return std::nullopt;
  const auto& object = value.as_object();
  const auto text_at = [&object](const char* key) {
    const auto* item = object.if_contains(key);
    return item != nullptr && item->is_string() ? std::string(item->as_string()) : std::string();
  };
  ClaimManifest manifest;
  manifest.id = text_at("id");
  manifest.node = text_at("node");
  manifest.name = text_at("name");
  manifest.source = parse_job_source(text_at("source")).value_or(JobSource::same_stem);
  manifest.folder = text_at("folder");
  if (const auto* created = object.if_contains("created_at"); created && created->is_int64()) {
    manifest.created_at = from_millis(created->as_int64());
  }
  if (const auto* options = object.if_contains("options")) {
    manifest.options = codec::decode_options(json::serialize(*options));
  }
  if (const auto* inputs = object.if_contains("inputs")) {
    auto decoded = codec::decode_inputs(json::serialize(*inputs));
    manifest.video = std::move(decoded.video);
    manifest.audio = std::move(decoded.audio);
    manifest.extras = std::move(decoded.extras);
  }
  if (manifest.id.empty() || manifest.video.path.empty() || manifest.audio.path.empty()) {
    return std::nullopt;
  }
  return manifest;
}

}  // namespace lipsyncd::spool
