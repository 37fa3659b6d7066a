#include "lipsyncd/intake/file_pairing.hpp"

#include <algorithm>
#include <map>
#include <variant>

#include "job_manifest.hpp"
#include "media_kind.hpp"

namespace lipsyncd::intake {
namespace fs = std::filesystem;
namespace {

class Pairing {
 public:
  Pairing(const fs::path& inbox, const std::vector<InboxFile>& files, SteadyTime now,
          std::chrono::steady_clock::duration partner_wait)
      : inbox_(inbox), now_(now), partner_wait_(partner_wait) {
    for (const auto& file : files) files_[file.path] = file;
  }

  PairingOutcome run() {
    std::vector<const InboxFile*> top_level;
    std::map<fs::path, std::vector<const InboxFile*>> folders;
    for (const auto& [path, file] : files_) {
      const fs::path relative = path.lexically_relative(inbox_);
      if (std::distance(relative.begin(), relative.end()) == 1) {
        top_level.push_back(&file);
      } else {
        folders[inbox_ / *relative.begin()].push_back(&file);
      }
    }
    for (const auto* file : top_level) {
      if (is_manifest_name(file->path.filename().string())) handle_manifest(*file);
    }
    pair_by_stem(top_level);
    for (const auto& [folder, members] : folders) handle_folder(folder, members);
    return std::move(outcome_);
  }

 private:
  bool available(const fs::path& path) const { return !used_.contains(path); }

  // Waits for `since + partner_wait`; true once that time has passed.
  bool waited_out(SteadyTime since) {
    const SteadyTime deadline = since + partner_wait_;
    if (now_ >= deadline) return true;
    if (!outcome_.next_deadline || deadline < *outcome_.next_deadline) {
      outcome_.next_deadline = deadline;
    }
    return false;
  }

  void emit(JobRequest request) {
    for (const auto& path : request.files()) used_.insert(path);
    outcome_.requests.push_back(std::move(request));
  }

  void reject(Rejection rejection) {
    for (const auto& path : rejection.files) used_.insert(path);
    outcome_.rejections.push_back(std::move(rejection));
  }

  const InboxFile* find(const fs::path& path) const {
    const auto it = files_.find(path);
    return it == files_.end() ? nullptr : &it->second;
  }

  void handle_manifest(const InboxFile& manifest) {
    const std::string name = manifest.path.filename().string();
    const std::string stem = name.substr(0, name.size() - std::string(".job.json").size());
    if (!manifest.settled) {
      waiting_stems_.insert(stem);
      return;
    }
    auto parsed = read_job_manifest(manifest.path, inbox_, inbox_);
    if (auto* rejection = std::get_if<Rejection>(&parsed)) return reject(std::move(*rejection));
    const auto& fields = std::get<JobManifest>(parsed);
    if (!fields.video || !fields.audio) {
      return reject({"bad_manifest",
                     name + ": needs both \"video\" and \"audio\"",
                     "add the missing key and drop the manifest again",
                     {manifest.path}});
    }
    const InboxFile* video = find(*fields.video);
    const InboxFile* audio = find(*fields.audio);
    const bool ready = video && audio && video->settled && audio->settled &&
                       available(video->path) && available(audio->path);
    if (!ready) {
      // Reserve the named files, so they are not paired some other way meanwhile.
      used_.insert(*fields.video);
      used_.insert(*fields.audio);
      used_.insert(manifest.path);
      waiting_stems_.insert(stem);
      if (!waited_out(manifest.settled_since)) return;
      const fs::path missing = !video || !video->settled ? *fields.video : *fields.audio;
      used_.erase(manifest.path);
      outcome_.rejections.push_back(
          {"missing_input",
           name + " names " + missing.lexically_relative(inbox_).string() +
               ", which is not in the inbox",
           "drop the file (or fix the manifest) and drop the manifest again",
           {manifest.path}});
      return;
    }
    JobRequest request;
    request.name = stem;
    request.source = JobSource::manifest;
    request.video = video->path;
    request.audio = audio->path;
    request.extras = {manifest.path};
    request.model = fields.model;
    request.sync_mode = fields.sync_mode;
    request.output_name = fields.output_name;
    emit(std::move(request));
  }

  void pair_by_stem(const std::vector<const InboxFile*>& top_level) {
    std::map<std::string, std::vector<const InboxFile*>> groups;
    for (const auto* file : top_level) {
      if (!available(file->path) || is_manifest_name(file->path.filename().string())) continue;
      groups[stem_of(file->path)].push_back(file);
    }
    for (const auto& [stem, members] : groups) {
      if (waiting_stems_.contains(stem)) continue;  // its manifest decides first
      if (std::any_of(members.begin(), members.end(),
                      [](const InboxFile* file) { return !file->settled; })) {
        continue;
      }
      std::vector<const InboxFile*> videos, audios;
      for (const auto* file : members) {
        switch (classify_file(file->path)) {
          case MediaKind::video:
          case MediaKind::image:
            videos.push_back(file);
            break;
          case MediaKind::audio:
            audios.push_back(file);
            break;
          default:
            handle_unknown(*file);
            break;
        }
      }
      decide(stem, videos, audios, JobSource::same_stem, {}, {});
    }
  }

  void handle_unknown(const InboxFile& file) {
    if (!waited_out(file.settled_since)) return;
    reject({"unknown_file_type",
            file.path.filename().string() + " is neither a video nor an audio file",
            "drop videos (mp4, mov, avi, webm) and audio (wav, mp3, aac, flac, m4a)",
            {file.path}});
  }

  SteadyTime latest_settle(const std::vector<const InboxFile*>& files) const {
    SteadyTime latest{};
    for (const auto* file : files) latest = std::max(latest, file->settled_since);
    return latest;
  }

  // One unit (a stem group or a folder) with its videos and audios sorted out.
  void decide(const std::string& name, const std::vector<const InboxFile*>& videos,
              const std::vector<const InboxFile*>& audios, JobSource source, const fs::path& folder,
              std::vector<fs::path> extras) {
    std::vector<fs::path> all;
    for (const auto* file : videos) all.push_back(file->path);
    for (const auto* file : audios) all.push_back(file->path);
    all.insert(all.end(), extras.begin(), extras.end());
    const std::string where = folder.empty() ? "" : " in folder " + folder.filename().string();
    // Rejections of a folder's files name the folder, so it can be removed once emptied.
    const auto reject_unit = [&](Rejection rejection) {
      rejection.folder = folder;
      reject(std::move(rejection));
    };
    if (videos.size() > 1 || audios.size() > 1) {
      return reject_unit(
          {"ambiguous_pair",
           std::to_string(videos.size()) + " videos and " + std::to_string(audios.size()) +
               " audio files for \"" + name + "\"" + where + ": lipsyncd needs exactly one of each",
           "give each pair its own name or folder, or name them in a job.json", all});
    }
    if (videos.size() == 1 && audios.size() == 1) {
      JobRequest request;
      request.name = name;
      request.source = source;
      request.video = videos.front()->path;
      request.audio = audios.front()->path;
      request.folder = folder;
      request.extras = std::move(extras);
      return emit(std::move(request));
    }
    if (videos.empty() && audios.empty()) return;
    std::vector<const InboxFile*> present = videos.empty() ? audios : videos;
    if (!waited_out(latest_settle(present))) return;
    const std::string lone = present.front()->path.filename().string();
    if (audios.empty()) {
      return reject_unit({"no_audio_found", "no audio found for " + lone + where,
                          "drop the audio with the same name (e.g. " + name + ".wav) next to it",
                          all});
    }
    reject_unit({"no_video_found", "no video found for " + lone + where,
                 "drop the video with the same name (e.g. " + name + ".mp4) next to it", all});
  }

  void handle_folder(const fs::path& folder, const std::vector<const InboxFile*>& members) {
    std::vector<const InboxFile*> mine;
    for (const auto* file : members) {
      if (available(file->path)) mine.push_back(file);
    }
    if (mine.empty()) return;
    if (std::any_of(mine.begin(), mine.end(), [](const InboxFile* f) { return !f->settled; })) {
      return;
    }
    const std::string name = folder.filename().string();
    std::vector<const InboxFile*> videos, audios;
    std::vector<fs::path> extras;
    JobManifest fields;
    if (const InboxFile* manifest = find(folder / "job.json");
        manifest && available(manifest->path)) {
      auto parsed = read_job_manifest(manifest->path, folder, inbox_);
      if (auto* rejection = std::get_if<Rejection>(&parsed)) {
        for (const auto* file : mine) {
          if (file->path != manifest->path) rejection->files.push_back(file->path);
        }
        rejection->folder = folder;
        return reject(std::move(*rejection));
      }
      fields = std::get<JobManifest>(parsed);
    }
    for (const auto* file : mine) {
      if (fields.video && file->path == *fields.video) {
        videos.push_back(file);
      } else if (fields.audio && file->path == *fields.audio) {
        audios.push_back(file);
      } else if (fields.video && fields.audio) {
        extras.push_back(file->path);  // named files chosen: the rest travels along
      } else {
        const MediaKind kind = classify_file(file->path);
        if ((kind == MediaKind::video || kind == MediaKind::image) && !fields.video) {
          videos.push_back(file);
        } else if (kind == MediaKind::audio && !fields.audio) {
          audios.push_back(file);
        } else {
          extras.push_back(file->path);
        }
      }
    }
    const std::size_t before = outcome_.requests.size();
    decide(name, videos, audios, JobSource::folder, folder, extras);
    if (outcome_.requests.size() > before) {
      auto& request = outcome_.requests.back();
      request.model = fields.model;
      request.sync_mode = fields.sync_mode;
      request.output_name = fields.output_name;
    }
  }

  fs::path inbox_;
  SteadyTime now_;
  std::chrono::steady_clock::duration partner_wait_;
  std::map<fs::path, InboxFile> files_;
  std::set<fs::path> used_;
  std::set<std::string> waiting_stems_;
  PairingOutcome outcome_;
};

}  // namespace

PairingOutcome pair_files(const fs::path& inbox, const std::vector<InboxFile>& files,
                          SteadyTime now, std::chrono::steady_clock::duration partner_wait) {
  return Pairing(inbox, files, now, partner_wait).run();
}

}  // namespace lipsyncd::intake
