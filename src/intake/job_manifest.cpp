#include "job_manifest.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

namespace lipsyncd::intake {
namespace fs = std::filesystem;
namespace json = boost::json;
namespace {

constexpr const char* kManifestHint =
    "a manifest is a JSON object: {\"video\": \"clip.mp4\", \"audio\": \"voice.wav\"} plus "
    "optional \"model\", \"sync_mode\" and \"output\"; fix it and drop it again";

Rejection bad_manifest(const fs::path& manifest, const std::string& what) {
  return {"bad_manifest", manifest.filename().string() + ": " + what, kManifestHint, {manifest}};
}

Rejection outside(const fs::path& manifest, const std::string& key, const std::string& value) {
  return {"path_outside_inbox",
          manifest.filename().string() + ": \"" + key + "\": \"" + value +
              "\" points outside the inbox",
          "name files inside the inbox with relative paths, without \"..\" or symlinks",
          {manifest}};
}

// The result is an MP4: it may be named as one of its family, never as something else (a
// "result.json" would be mistaken for, or collide with, a sidecar).
bool has_video_extension(const std::string& name) {
  auto extension = fs::path(name).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension == ".mp4" || extension == ".m4v" || extension == ".mov";
}

// A manifest's "output": a plain visible file name with a video extension, decided before
// anything is uploaded or paid.
std::optional<Rejection> check_output_name(const fs::path& manifest, const std::string& value) {
  const auto refuse = [&](const std::string& why) {
    return Rejection{"bad_output_name",
                     manifest.filename().string() + ": \"output\": \"" + value + "\" " + why,
                     "name the result with a plain file name ending in .mp4 (or .m4v, .mov), "
                     "such as \"take 3.mp4\"; fix the manifest and drop it again",
                     {manifest}};
  };
  const fs::path output(value);
  if (value.find('/') != std::string::npos || output.has_parent_path() || output.is_absolute()) {
    return refuse("has a folder in it; results always go into the outbox itself");
  }
  if (value.empty() || value.front() == '.') return refuse("is empty or hidden");
  if (!has_video_extension(value)) return refuse("does not end in .mp4, .m4v or .mov");
  return std::nullopt;
}

bool is_inside(const fs::path& path, const fs::path& folder) {
  const auto relative = path.lexically_relative(folder);
  return !relative.empty() && *relative.begin() != "..";
}

// The absolute path `value` names, or the reason it is refused.
std::variant<fs::path, Rejection> resolve(const fs::path& manifest, const std::string& key,
                                          const std::string& value, const fs::path& base,
                                          const fs::path& inbox) {
  const fs::path relative(value);
  if (value.empty()) return bad_manifest(manifest, "\"" + key + "\" is empty");
  if (relative.is_absolute()) return outside(manifest, key, value);
  for (const auto& part : relative) {
    if (part == "..") return outside(manifest, key, value);
  }
  const fs::path full = (base / relative).lexically_normal();
  std::error_code ec;
  // Follows every symlink on the way, including ones in parent folders.
  const fs::path real = fs::weakly_canonical(full, ec);
  if (ec || !is_inside(real, inbox)) return outside(manifest, key, value);
  if (fs::is_symlink(fs::symlink_status(full, ec))) {
    return Rejection{"path_outside_inbox",
                     manifest.filename().string() + ": \"" + key + "\": \"" + value +
                         "\" is a symlink; lipsyncd only takes real files",
                     "name the file itself, not a link to it",
                     {manifest}};
  }
  return full;
}

}  // namespace

std::variant<JobManifest, Rejection> read_job_manifest(const fs::path& manifest,
                                                       const fs::path& base,
                                                       const fs::path& inbox) {
  std::ifstream in(manifest);
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  const json::value value = json::parse(text.str(), ec);
  if (ec) return bad_manifest(manifest, "not valid JSON (" + ec.message() + ")");
  if (!value.is_object()) return bad_manifest(manifest, "not a JSON object");

  static const std::set<std::string> kKeys = {"video", "audio", "model", "sync_mode", "output"};
  JobManifest result;
  for (const auto& [key_view, item] : value.as_object()) {
    const std::string key(key_view);
    if (!kKeys.contains(key)) {
      return bad_manifest(
          manifest, "unknown key \"" + key + "\" (known: video, audio, model, sync_mode, output)");
    }
    if (!item.is_string()) return bad_manifest(manifest, "\"" + key + "\" must be a string");
    const std::string text_value(item.as_string());
    if (key == "video" || key == "audio") {
      auto resolved = resolve(manifest, key, text_value, base, inbox);
      if (auto* rejection = std::get_if<Rejection>(&resolved)) return std::move(*rejection);
      (key == "video" ? result.video : result.audio) = std::get<fs::path>(resolved);
    } else if (key == "model") {
      result.model = text_value;
    } else if (key == "sync_mode") {
      result.sync_mode = parse_sync_mode(text_value);
      if (!result.sync_mode) {
        return bad_manifest(manifest, "sync_mode \"" + text_value +
                                          "\" is not one of cut_off, loop, bounce, silence, "
                                          "remap");
      }
    } else if (key == "output") {
      if (auto rejection = check_output_name(manifest, text_value)) return std::move(*rejection);
      result.output_name = text_value;
    }
  }
  if (result.video && result.audio && *result.video == *result.audio) {
    return bad_manifest(manifest, "\"video\" and \"audio\" name the same file");
  }
  return result;
}

}  // namespace lipsyncd::intake
