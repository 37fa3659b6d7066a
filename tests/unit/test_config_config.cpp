#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/core/error.hpp"
#include "test_media.hpp"

namespace lipsyncd {
namespace {

std::string bad_config_message(std::string_view toml) {
  try {
    parse_config(toml, "/base", {});
  } catch (const Error& e) {
    EXPECT_EQ(e.reason_code(), "bad_config");
    return e.what();
  }
  ADD_FAILURE() << "expected bad_config for: " << toml;
  return {};
}

TEST(Config, EmptyFileGivesDocumentedDefaults) {
  const Config c = parse_config("", "/srv/lipsync", {});
  EXPECT_EQ(c.paths.inbox, "/srv/lipsync/inbox");
  EXPECT_EQ(c.fal.queue_url, "https://queue.fal.run");
  EXPECT_EQ(c.fal.endpoint, "fal-ai/sync-lipsync");
  EXPECT_EQ(c.fal.model, "");  // the endpoint's default
  EXPECT_EQ(model_choice(c).model, "lipsync-1.9.0-beta");
  EXPECT_DOUBLE_EQ(c.policy.price_per_minute_usd, 0.70);
  EXPECT_EQ(c.policy.audio_longer, SyncMode::bounce);
  EXPECT_TRUE(c.fal.credentials.empty());
}

TEST(Config, ShippedExampleParsesAndMatchesTheDefaults) {
  const auto file = test::source_dir() / "config" / "lipsyncd.toml";
  const Config shipped = load_config(file, {});
  const Config defaults = parse_config("", file.parent_path(), {});
  EXPECT_EQ(shipped.paths.outbox, defaults.paths.outbox);
  EXPECT_EQ(shipped.fal.rest_url, defaults.fal.rest_url);
  EXPECT_EQ(shipped.media.max_height, defaults.media.max_height);
  EXPECT_EQ(shipped.face.cascade_dir, defaults.face.cascade_dir);
  EXPECT_EQ(shipped.intake.output_pattern, defaults.intake.output_pattern);
  EXPECT_DOUBLE_EQ(shipped.face.min_face_height_ratio, defaults.face.min_face_height_ratio);
  EXPECT_EQ(shipped.log.json_max_bytes, defaults.log.json_max_bytes);
}

TEST(Config, ShippedExampleDocumentsEveryKeyTheParserKnows) {
  // Every key=value line in the example must be accepted; and removing any one of them must
  // still parse (so the example never carries keys the parser does not know).
  std::ifstream in(test::source_dir() / "config" / "lipsyncd.toml");
  std::stringstream text;
  text << in.rdbuf();
  const std::regex key_line(R"(^([a-z_0-9]+) = )");
  int keys = 0;
  std::string line;
  std::istringstream lines(text.str());
  while (std::getline(lines, line)) {
    if (std::regex_search(line, key_line)) ++keys;
  }
  EXPECT_GE(keys, 50);
}

TEST(Config, ValuesOverrideDefaults) {
  const Config c = parse_config(R"(
[paths]
inbox = "/data/in"
[fal]
queue_url = "http://127.0.0.1:8080"
max_in_flight = 4
[budget]
daily_usd = 12.5
monthly_usd = 100
[policy]
audio_longer = "loop"
forced = "silence"
)",
                                "/base", {});
  EXPECT_EQ(c.paths.inbox, "/data/in");
  EXPECT_EQ(c.paths.outbox, "/base/outbox");
  EXPECT_EQ(c.fal.queue_url, "http://127.0.0.1:8080");
  EXPECT_EQ(c.fal.max_in_flight, 4);
  EXPECT_DOUBLE_EQ(c.budget.daily_usd, 12.5);
  EXPECT_DOUBLE_EQ(c.budget.monthly_usd, 100.0);
  EXPECT_EQ(c.policy.audio_longer, SyncMode::loop);
  ASSERT_TRUE(c.policy.forced.has_value());
  EXPECT_EQ(*c.policy.forced, SyncMode::silence);
}

TEST(Config, TyposAndWrongTypesAreReportedWithTheKey) {
  EXPECT_NE(bad_config_message("[paths]\ninbxo = \"x\"").find("[paths] inbxo"), std::string::npos);
  EXPECT_NE(bad_config_message("[pahts]\n").find("[pahts]"), std::string::npos);
  EXPECT_NE(bad_config_message("[fal]\nmax_in_flight = \"two\"").find("whole number"),
            std::string::npos);
  EXPECT_NE(bad_config_message("[policy]\naudio_longer = \"jump\"").find("jump"),
            std::string::npos);
  EXPECT_NE(bad_config_message("[fal]\nmodel = \"lipsync-9\"").find("lipsync-9"),
            std::string::npos);
  EXPECT_NE(bad_config_message("[budget\n").find("line 1"), std::string::npos);
  EXPECT_NE(bad_config_message("[budget]\ndaily_usd = -1").find("negative"), std::string::npos);
}

// A reload cannot move the folders, the fal client or the log sinks built at start: fresh keeps
// the running values (so a job is never planned for one endpoint and sent to another), and
// each such section is named once; everything else takes the new value.
TEST(Config, AReloadKeepsWhatOnlyARestartCanChangeAndTakesTheRest) {
  Config running;
  running.fal.credentials = "key-1";
  Config fresh = running;
  EXPECT_TRUE(keep_restart_only_settings(running, fresh).empty());

  fresh.paths.inbox = "/elsewhere/inbox";
  fresh.fal.endpoint = "fal-ai/sync-lipsync/v2";
  fresh.fal.credentials = "key-2";
  fresh.fal.model = "lipsync-1.8.0";
  fresh.log.sink = "stderr";
  fresh.log.level = "debug";
  fresh.budget.daily_usd = 12;
  const auto kept = keep_restart_only_settings(running, fresh);
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_NE(kept[0].find("[paths]"), std::string::npos);
  EXPECT_NE(kept[1].find("endpoint"), std::string::npos);
  EXPECT_NE(kept[2].find("[log]"), std::string::npos);
  EXPECT_EQ(fresh.paths, running.paths);
  EXPECT_EQ(fresh.fal.endpoint, "fal-ai/sync-lipsync");
  EXPECT_EQ(fresh.fal.credentials, "key-1");
  EXPECT_EQ(fresh.log.sink, running.log.sink);
  EXPECT_EQ(fresh.fal.model, "lipsync-1.8.0");  // reloadable: taken
  EXPECT_EQ(fresh.log.level, "debug");
  EXPECT_EQ(fresh.budget.daily_usd, 12);
}

TEST(Config, FaceDetectorIsHaarByDefault) {
  const Config c = parse_config("", "/base", {});
  EXPECT_EQ(c.face.detector, "haar");
  EXPECT_TRUE(c.face.ssd_model.empty());
}

TEST(Config, SsdDetectorFindsItsGraphBesideTheModel) {
  const auto model = test::ssd_model();
  const Config c = parse_config(
      "[face]\ndetector = \"ssd\"\nssd_model = \"" + model.string() + "\"\n", "/base", {});
  EXPECT_EQ(c.face.detector, "ssd");
  EXPECT_EQ(c.face.ssd_model, model);
  EXPECT_EQ(c.face.ssd_graph, model.parent_path() / "opencv_face_detector.pbtxt");
}

TEST(Config, SsdModelPathsAreRelativeToTheConfigFile) {
  const auto models = test::models_dir();
  const Config c = parse_config(
      "[face]\ndetector = \"ssd\"\nssd_model = \"opencv_face_detector_uint8.pb\"\n"
      "ssd_graph = \"opencv_face_detector.pbtxt\"\n",
      models, {});
  EXPECT_EQ(c.face.ssd_model, models / "opencv_face_detector_uint8.pb");
  EXPECT_EQ(c.face.ssd_graph, models / "opencv_face_detector.pbtxt");
}

TEST(Config, UnknownDetectorOrSsdWithoutAReadableModelIsRefusedNamingTheKey) {
  const std::string unknown = bad_config_message("[face]\ndetector = \"yunet\"\n");
  EXPECT_NE(unknown.find("[face] detector"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("yunet"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("haar or ssd"), std::string::npos) << unknown;

  const std::string no_model = bad_config_message("[face]\ndetector = \"ssd\"\n");
  EXPECT_NE(no_model.find("[face] ssd_model"), std::string::npos) << no_model;

  const std::string absent =
      bad_config_message("[face]\ndetector = \"ssd\"\nssd_model = \"/nowhere/model.pb\"\n");
  EXPECT_NE(absent.find("[face] ssd_model"), std::string::npos) << absent;
  EXPECT_NE(absent.find("/nowhere/model.pb"), std::string::npos) << absent;

  // A folder is not a model file.
  const std::string folder = bad_config_message("[face]\ndetector = \"ssd\"\nssd_model = \"" +
                                                test::models_dir().string() + "\"\n");
  EXPECT_NE(folder.find("[face] ssd_model"), std::string::npos) << folder;

  // Weights without their text graph beside them.
  test::TempDir dir;
  std::ofstream(dir / "opencv_face_detector_uint8.pb") << "weights";
  const std::string no_graph =
      bad_config_message("[face]\ndetector = \"ssd\"\nssd_model = \"" +
                         (dir / "opencv_face_detector_uint8.pb").string() + "\"\n");
  EXPECT_NE(no_graph.find("[face] ssd_graph"), std::string::npos) << no_graph;
  EXPECT_NE(no_graph.find("opencv_face_detector.pbtxt"), std::string::npos) << no_graph;

  // The model is only needed by the SSD: Haar ignores a stale path.
  EXPECT_EQ(parse_config("[face]\nssd_model = \"/nowhere/model.pb\"\n", "/base", {}).face.detector,
            "haar");
}

TEST(Config, RetiredDnnModelIsRefusedWithAPointerToTheSsdKeys) {
  const std::string message = bad_config_message("[face]\ndnn_model = \"/models/yunet.onnx\"\n");
  EXPECT_NE(message.find("[face] dnn_model"), std::string::npos) << message;
  EXPECT_NE(message.find("detector = \"ssd\""), std::string::npos) << message;
  EXPECT_NE(message.find("[face] ssd_model"), std::string::npos) << message;
  // The empty value older sample files carry asked for nothing and still loads.
  EXPECT_EQ(parse_config("[face]\ndnn_model = \"\"\n", "/base", {}).face.detector, "haar");
}

TEST(Config, KeyComesFromTheEnvironmentAndEndpointCanBeOverridden) {
  const Config c = parse_config(
      "", "/b", {{"FAL_KEY", "abc:def"}, {"FAL_VIDEO_TO_VIDEO_LIPSYNC", "fal-ai/sync-lipsync/v2"}});
  EXPECT_EQ(c.fal.credentials, "abc:def");
  EXPECT_EQ(c.fal.endpoint, "fal-ai/sync-lipsync/v2");
  const Config split = parse_config("", "/b", {{"FAL_KEY_ID", "id"}, {"FAL_KEY_SECRET", "secret"}});
  EXPECT_EQ(split.fal.credentials, "id:secret");
}

TEST(Config, NoModelOnV2MeansLipsync2AtThreeDollars) {
  const Config c =
      parse_config("", "/b", {{"FAL_VIDEO_TO_VIDEO_LIPSYNC", "fal-ai/sync-lipsync/v2"}});
  EXPECT_EQ(model_choice(c).model, "lipsync-2");
  EXPECT_DOUBLE_EQ(c.policy.price_per_minute_usd, 3.00);
  EXPECT_DOUBLE_EQ(model_choice(c, "lipsync-2-pro").usd_per_minute, 5.00);
  const Config v3 = parse_config("[fal]\nendpoint = \"fal-ai/sync-lipsync/v3\"\n", "/b", {});
  EXPECT_EQ(model_choice(v3).model, "");
  EXPECT_DOUBLE_EQ(v3.policy.price_per_minute_usd, 8.00);
}

TEST(Config, AModelNotOfTheEndpointIsRefusedWithItsLineAndTheAllowedValues) {
  const std::string toml = "[paths]\ninbox = \"in\"\n[fal]\nmodel = \"lipsync-1.9.0-beta\"\n";
  try {
    parse_config(toml, "/b", {{"FAL_VIDEO_TO_VIDEO_LIPSYNC", "fal-ai/sync-lipsync/v2"}});
    ADD_FAILURE() << "a v1 model was accepted for v2";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.reason_code(), "bad_config");
    EXPECT_NE(message.find("line 4"), std::string::npos) << message;
    EXPECT_NE(message.find("lipsync-2, lipsync-2-pro"), std::string::npos) << message;
    EXPECT_NE(message.find("FAL_VIDEO_TO_VIDEO_LIPSYNC"), std::string::npos) << message;
  }
  const auto v3 =
      bad_config_message("[fal]\nendpoint = \"fal-ai/sync-lipsync/v3\"\nmodel = \"lipsync-2\"\n");
  EXPECT_NE(v3.find("line 3"), std::string::npos) << v3;
  EXPECT_NE(v3.find("no model field"), std::string::npos) << v3;
  EXPECT_NE(bad_config_message("[fal]\nendpoint = \"fal-ai/lipsync-x\"\n").find("line 2"),
            std::string::npos);
}

TEST(Config, PricesTableOverridesTheCatalog) {
  const Config c = parse_config(R"(
[fal]
endpoint = "fal-ai/sync-lipsync/v2"
model = "lipsync-2-pro"
[prices]
"fal-ai/sync-lipsync" = 0.75
"fal-ai/sync-lipsync/v2" = { lipsync-2 = 3.25, lipsync-2-pro = 5.5 }
"fal-ai/sync-lipsync/v3" = 9
)",
                                "/b", {});
  EXPECT_DOUBLE_EQ(c.policy.price_per_minute_usd, 5.5);
  EXPECT_DOUBLE_EQ(model_choice(c, "lipsync-2").usd_per_minute, 3.25);
  Config other = c;
  other.fal.model.clear();
  choose_model(other, "fal-ai/sync-lipsync/v3", "");
  EXPECT_DOUBLE_EQ(other.policy.price_per_minute_usd, 9.0);
  EXPECT_NE(bad_config_message("[prices]\n\"fal-ai/sync-lipsync/v9\" = 1").find("v9"),
            std::string::npos);
  EXPECT_NE(bad_config_message("[prices]\n\"fal-ai/sync-lipsync/v2\" = { lipsync-3 = 1 }")
                .find("lipsync-3"),
            std::string::npos);
  EXPECT_NE(bad_config_message("[prices]\n\"fal-ai/sync-lipsync\" = \"cheap\"").find("price"),
            std::string::npos);
  EXPECT_NE(bad_config_message("[policy]\nprice_per_minute_usd = 0.7").find("[prices]"),
            std::string::npos);
}

TEST(Config, KeyFileAndSystemdCredential) {
  test::TempDir dir;
  {
    std::ofstream(dir / "key") << "file-key\n";
    std::ofstream(dir / "fal_key") << "credential-key\n";
  }
  const Config from_file = parse_config("[fal]\nkey_file = \"key\"\n", dir.path(), {});
  EXPECT_EQ(from_file.fal.credentials, "file-key");
  const Config from_systemd =
      parse_config("", dir.path(), {{"CREDENTIALS_DIRECTORY", dir.path().string()}});
  EXPECT_EQ(from_systemd.fal.credentials, "credential-key");
  const Config env_wins =
      parse_config("[fal]\nkey_file = \"key\"\n", dir.path(), {{"FAL_KEY", "env-key"}});
  EXPECT_EQ(env_wins.fal.credentials, "env-key");
}

TEST(Config, DuplicateInFlightIsWaitOrHold) {
  EXPECT_EQ(parse_config("", "/b", {}).intake.duplicate_in_flight, "wait");
  EXPECT_EQ(
      parse_config("[intake]\nduplicate_in_flight = \"hold\"", "/b", {}).intake.duplicate_in_flight,
      "hold");
  EXPECT_NE(bad_config_message("[intake]\nduplicate_in_flight = \"pay\"").find("wait"),
            std::string::npos);
}

TEST(ConfigLongform, DefaultsAreOnWithNineMinuteSegmentsUpToFourHours) {
  const Config c = parse_config("", "/b", {});
  EXPECT_TRUE(c.longform.enabled);
  EXPECT_DOUBLE_EQ(c.longform.max_segment_s, 540);
  EXPECT_DOUBLE_EQ(c.longform.max_total_s, 14400);
  EXPECT_DOUBLE_EQ(c.longform.min_pause_s, 0.3);
  EXPECT_DOUBLE_EQ(c.longform.pause_below_speech_db, 25);
  EXPECT_DOUBLE_EQ(request_limit_s(c), 600);
  const Config set = parse_config(
      "[longform]\nenabled = false\nmax_segment_s = 300\nmax_total_s = 3600\n"
      "min_pause_s = 0.5\npause_below_speech_db = 30\n",
      "/b", {});
  EXPECT_FALSE(set.longform.enabled);
  EXPECT_DOUBLE_EQ(set.longform.max_segment_s, 300);
  EXPECT_DOUBLE_EQ(set.longform.max_total_s, 3600);
  EXPECT_DOUBLE_EQ(set.longform.min_pause_s, 0.5);
  EXPECT_DOUBLE_EQ(set.longform.pause_below_speech_db, 30);
}

TEST(ConfigLongform, RequestLimitIsTheLowerOfCatalogAndMediaLimit) {
  const Config lower = parse_config(
      "[media]\nmax_video_duration_s = 300\n[longform]\nmax_segment_s = 290\n", "/b", {});
  EXPECT_DOUBLE_EQ(request_limit_s(lower), 300);
  const Config higher = parse_config("[media]\nmax_video_duration_s = 900\n", "/b", {});
  EXPECT_DOUBLE_EQ(request_limit_s(higher), 600);  // the catalog's limit still holds
}

TEST(ConfigLongform, SegmentAboveTheRequestLimitOrTotalBelowASegmentIsRefused) {
  const auto over = bad_config_message("[longform]\nmax_segment_s = 601\n");
  EXPECT_NE(over.find("[longform] max_segment_s = 601"), std::string::npos) << over;
  EXPECT_NE(over.find("at most 600"), std::string::npos) << over;
  const auto media_lower =
      bad_config_message("[media]\nmax_video_duration_s = 300\n");  // 540 > 300
  EXPECT_NE(media_lower.find("max_video_duration_s"), std::string::npos) << media_lower;
  bad_config_message("[longform]\nmax_segment_s = 0\n");
  bad_config_message("[longform]\nmax_segment_s = -5\n");
  const auto total = bad_config_message("[longform]\nmax_total_s = 500\n");
  EXPECT_NE(total.find("max_total_s = 500 must be at least [longform] max_segment_s = 540"),
            std::string::npos)
      << total;
  bad_config_message("[longform]\nmin_pause_s = 0\n");
  bad_config_message("[longform]\npause_below_speech_db = 0\n");
  bad_config_message("[longform]\nmax_segments = 3\n");  // a typo names the key
}

TEST(Config, RemembersWhatTheFileSet) {
  const Config c = parse_config("[budget]\ndaily_usd = 5\n[log]\n", "/b", {});
  EXPECT_EQ(c.file_keys, (std::set<std::string>{"budget", "budget.daily_usd", "log"}));
  EXPECT_TRUE(default_config({}).file_keys.empty());
}

std::string reload_refusal(const std::string& running, const std::string& fresh) {
  try {
    check_reload(parse_config(running, "/b", {}), parse_config(fresh, "/b", {}));
  } catch (const Error& e) {
    EXPECT_EQ(e.reason_code(), "bad_config");
    return e.what();
  }
  return {};
}

// Issue 10, case 8: SIGHUP with an empty file was accepted and silently dropped the budget
// caps. Empty (or only comments / empty tables), a missing section or an omitted cap in force
// is refused; an explicit 0 removes a cap on purpose.
TEST(Config, ReloadRefusesEmptyTruncatedOrCapDroppingFiles) {
  const std::string running =
      "[paths]\ninbox = \"in\"\n[budget]\ndaily_usd = 5\nmonthly_usd = 50\n[log]\nlevel = "
      "\"info\"\n";
  EXPECT_NE(reload_refusal(running, "").find("sets no key"), std::string::npos);
  EXPECT_NE(reload_refusal(running, "# only a comment\n\n").find("sets no key"), std::string::npos);
  EXPECT_NE(reload_refusal(running, "[paths]\n[budget]\n[log]\n").find("sets no key"),
            std::string::npos);
  // Cut off after [budget]: [log] is gone.
  EXPECT_NE(reload_refusal(running,
                           "[paths]\ninbox = \"in\"\n[budget]\ndaily_usd = 5\n"
                           "monthly_usd = 50\n")
                .find("[log]"),
            std::string::npos);
  // The daily cap left out: it would fall back to "no cap".
  const auto dropped = reload_refusal(
      running, "[paths]\ninbox = \"in\"\n[budget]\nmonthly_usd = 50\n[log]\nlevel = \"debug\"\n");
  EXPECT_NE(dropped.find("daily_usd"), std::string::npos) << dropped;
  EXPECT_NE(dropped.find("= 0"), std::string::npos) << "the message says how to remove a cap";

  // Accepted: every section kept, caps changed or removed explicitly, keys dropped elsewhere.
  EXPECT_EQ(reload_refusal(running,
                           "[paths]\n[budget]\ndaily_usd = 0\nmonthly_usd = 80\n[log]\n"
                           "level = \"warn\"\n"),
            "");
  EXPECT_EQ(reload_refusal(running, running + "[metrics]\nlisten = \"\"\n"), "");
  // Without a cap in force there is nothing to drop.
  EXPECT_EQ(reload_refusal("[log]\nlevel = \"info\"\n", "[log]\nlevel = \"debug\"\n"), "");
}

// Fleet mode (issue 14): [store] url picks the job store, [fleet] names this node.
std::string host_name() {
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  return name;
}

TEST(ConfigFleet, DefaultsAreSqliteTheHostNameAndThirtySeconds) {
  const Config c = parse_config("", "/b", {});
  EXPECT_EQ(c.store.url, "");
  EXPECT_TRUE(c.store.password_file.empty());
  EXPECT_EQ(store_connection_url(c.store), "");
  EXPECT_EQ(c.fleet.node, host_name());
  EXPECT_FALSE(c.fleet.node.empty());
  EXPECT_EQ(c.fleet.lease_s, 30);
  // An empty node in the file means the host name too.
  EXPECT_EQ(parse_config("[fleet]\nnode = \"\"\n", "/b", {}).fleet.node, host_name());
}

TEST(ConfigFleet, StoreUrlIsEmptyOrPostgresql) {
  for (const std::string url :
       {"postgresql://lipsyncd@db.example:5432/lipsyncd", "postgres://lipsyncd@db/lipsyncd",
        "postgresql:///lipsyncd?host=/run/postgresql", "postgresql://db/lipsyncd?sslmode=require",
        "postgresql://[::1]:5432/lipsyncd"}) {
    const Config c = parse_config("[store]\nurl = \"" + url + "\"\n", "/b", {});
    EXPECT_EQ(c.store.url, url);
    EXPECT_EQ(store_connection_url(c.store), url) << "no password_file: the url as written";
  }
  for (const std::string url : {"sqlite:///var/lib/lipsyncd/jobs.sqlite3", "db.example/lipsyncd",
                                "mysql://u:hunter2@db/x"}) {
    const auto message = bad_config_message("[store]\nurl = \"" + url + "\"\n");
    EXPECT_NE(message.find("postgresql://"), std::string::npos) << message;
    EXPECT_EQ(message.find("hunter2"), std::string::npos) << "never echo a url: " << message;
  }
}

TEST(ConfigFleet, AUrlCarryingAPasswordIsRefusedWithoutRepeatingIt) {
  for (const std::string url :
       {"postgresql://lipsyncd:hunter2@db/lipsyncd", "postgres://lipsyncd:hunter2@db:5432/x",
        "postgresql://lipsyncd:hun@ter2@db/lipsyncd", "postgresql://db/x?password=hunter2",
        "postgresql://db/x?sslmode=require&password=hunter2",
        "postgresql://db/x?pass%77ord=hunter2"}) {
    const auto message = bad_config_message("[store]\nurl = \"" + url + "\"\n");
    EXPECT_NE(message.find("carries a password"), std::string::npos) << url << ": " << message;
    EXPECT_NE(message.find("PGPASSWORD"), std::string::npos) << message;
    EXPECT_NE(message.find("password_file"), std::string::npos) << message;
    EXPECT_EQ(message.find("hunter2"), std::string::npos) << "the password leaked: " << message;
  }
}

TEST(ConfigFleet, PasswordFileBecomesLibpqsPassfile) {
  test::TempDir dir;
  const auto pgpass = dir / "pg pass";  // a space, to see it encoded
  std::ofstream(pgpass) << "db:5432:lipsyncd:lipsyncd:hunter2\n";
  std::filesystem::permissions(
      pgpass, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  const Config c = parse_config(
      "[store]\nurl = \"postgresql://lipsyncd@db/lipsyncd\"\npassword_file = \"pg pass\"\n",
      dir.path(), {});
  EXPECT_EQ(c.store.password_file, pgpass);  // relative to the configuration file
  EXPECT_EQ(store_connection_url(c.store),
            "postgresql://lipsyncd@db/lipsyncd?passfile=" + dir.path().string() + "/pg%20pass");
  EXPECT_EQ(store_connection_url(c.store).find("hunter2"), std::string::npos);
  StoreConfig with_query{"postgresql://db/x?sslmode=require", "/run/credentials/x/pgpass"};
  EXPECT_EQ(store_connection_url(with_query),
            "postgresql://db/x?sslmode=require&passfile=/run/credentials/x/pgpass");

  // systemd's LoadCredential=pgpass:... is found like fal_key, for a PostgreSQL store only.
  const Environment systemd{{"CREDENTIALS_DIRECTORY", dir.path().string()}};
  std::filesystem::rename(pgpass, dir / "pgpass");
  EXPECT_EQ(parse_config("[store]\nurl = \"postgresql://lipsyncd@db/x\"\n", "/b", systemd)
                .store.password_file,
            dir / "pgpass");
  EXPECT_TRUE(parse_config("", "/b", systemd).store.password_file.empty());
}

TEST(ConfigFleet, PasswordFileMustBeUsefulReadableAndPrivate) {
  test::TempDir dir;
  const auto pgpass = dir / "pgpass";
  std::ofstream(pgpass) << "*:*:*:lipsyncd:hunter2\n";
  const std::string url = "[store]\nurl = \"postgresql://lipsyncd@db/x\"\n";

  std::filesystem::permissions(
      pgpass, std::filesystem::perms::owner_read | std::filesystem::perms::group_read);
  auto message = bad_config_message(url + "password_file = \"" + pgpass.string() + "\"\n");
  EXPECT_NE(message.find("chmod 0600"), std::string::npos) << message;

  message = bad_config_message(url + "password_file = \"" + (dir / "missing").string() + "\"\n");
  EXPECT_NE(message.find("cannot read [store] password_file"), std::string::npos) << message;

  message = bad_config_message("[store]\npassword_file = \"" + pgpass.string() + "\"\n");
  EXPECT_NE(message.find("[store] url is empty"), std::string::npos) << message;

  std::filesystem::permissions(pgpass, std::filesystem::perms::owner_read);
  message =
      bad_config_message("[store]\nurl = \"postgresql://db/x?passfile=/p\"\npassword_file = \"" +
                         pgpass.string() + "\"\n");
  EXPECT_NE(message.find("keep one"), std::string::npos) << message;
}

TEST(ConfigFleet, NodeNamesAreShortAndPlain) {
  EXPECT_EQ(parse_config("[fleet]\nnode = \"render-02.lan_b\"\n", "/b", {}).fleet.node,
            "render-02.lan_b");
  const std::string longest(63, 'n');
  EXPECT_EQ(parse_config("[fleet]\nnode = \"" + longest + "\"\n", "/b", {}).fleet.node, longest);
  EXPECT_NE(bad_config_message("[fleet]\nnode = \"" + longest + "n\"\n").find("longer than 63"),
            std::string::npos);
  for (const std::string bad : {"a b", "a/b", "node:1", "ünicode", "a\\\\b"}) {
    const auto message = bad_config_message("[fleet]\nnode = \"" + bad + "\"\n");
    EXPECT_NE(message.find("[fleet] node"), std::string::npos) << message;
    EXPECT_NE(message.find("letters, digits"), std::string::npos) << message;
  }
}

TEST(ConfigFleet, LeaseIsWholeSecondsOfAtLeastTwo) {
  EXPECT_EQ(parse_config("[fleet]\nlease_s = 2\n", "/b", {}).fleet.lease_s, 2);
  EXPECT_EQ(parse_config("[fleet]\nlease_s = 600\n", "/b", {}).fleet.lease_s, 600);
  EXPECT_NE(bad_config_message("[fleet]\nlease_s = 1\n").find("below 2"), std::string::npos);
  EXPECT_NE(bad_config_message("[fleet]\nlease_s = 0\n").find("below 2"), std::string::npos);
  EXPECT_NE(bad_config_message("[fleet]\nlease_s = -5\n").find("negative"), std::string::npos);
  EXPECT_NE(bad_config_message("[fleet]\nlease_s = 2.5\n").find("whole number"), std::string::npos);
  EXPECT_NE(bad_config_message("[fleet]\nlease = 30\n").find("unknown key [fleet] lease"),
            std::string::npos);
}

TEST(ConfigFleet, AReloadKeepsTheStoreAndTheNode) {
  Config running = parse_config("[fleet]\nnode = \"a\"\n", "/b", {});
  Config fresh = parse_config(
      "[store]\nurl = \"postgresql://db/x\"\n[fleet]\nnode = \"b\"\nlease_s = 5\n[budget]\n"
      "daily_usd = 3\n",
      "/b", {});
  const auto kept = keep_restart_only_settings(running, fresh);
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_NE(kept[0].find("[store] and [fleet]"), std::string::npos) << kept[0];
  EXPECT_EQ(fresh.store, running.store);
  EXPECT_EQ(fresh.fleet.node, "a");
  EXPECT_EQ(fresh.fleet.lease_s, 30);
  EXPECT_EQ(fresh.budget.daily_usd, 3);  // reloadable: taken
}

}  // namespace
}  // namespace lipsyncd
