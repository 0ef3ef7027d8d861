"""`admin-cli richmenu create` with line-bot-sdk against the LINE simulator over real HTTP:
the menu, its image on the data host, links, the campaign's postback trigger; refusals roll back."""
import pytest
import time_machine
from PIL import Image

from bot.simulators.line import new_user_id
from bot.storage.models import AuditEntry, Trigger
from tests.cli.seed import EXAMPLES, NOW, TOKEN, fetch, setup_team


def _png(path, size=(2500, 843)):
    Image.new("RGB", size, (200, 30, 30)).save(path, format="PNG")
    return path


@pytest.fixture
def team(cli):
    with time_machine.travel(NOW, tick=True):
        setup_team(cli)
        assert cli("--as", "mia", "campaigns", "create", "-f", str(EXAMPLES / "list-only.yaml")).exit_code == 0
        yield cli


def test_rich_menu_for_users_and_everyone(team, database_url, line_sim, tmp_path):
    sim, base = line_sim
    env = {"LINE_API_BASE_URL": base, "LINE_DATA_API_BASE_URL": base}
    user = new_user_id()
    done = team("--as", "mia", "richmenu", "create", "1", "--image", str(_png(tmp_path / "m.png")),
                "--user", user, env=env)
    assert done.exit_code == 0, done.output
    [menu_id] = sim.rich_menus
    menu = sim.rich_menus[menu_id]
    assert menu["size"] == {"width": 2500, "height": 843} and menu["chatBarText"] == "發票登錄"
    assert menu["areas"][0]["action"] == {"type": "postback", "label": "發票登錄", "data": "campaign:1:card"}
    assert sim.rich_menu_images[menu_id][1] == "image/png" and sim.user_rich_menus == {user: menu_id}
    assert [c["endpoint"] for c in sim.api_calls] == ["richmenu.create", "richmenu.content", "richmenu.link"]
    [trigger] = fetch(database_url, Trigger)
    assert (trigger.kind, trigger.value, trigger.campaign_id) == ("postback", "campaign:1:card", 1)
    assert fetch(database_url, AuditEntry, AuditEntry.action == "richmenu.create")

    again = team("--as", "mia", "richmenu", "create", "1", "--image", str(_png(tmp_path / "m2.png", (2500, 1686))),
                 "--all-users", env=env)
    assert again.exit_code == 0, again.output
    assert sim.default_rich_menu in sim.rich_menus and sim.default_rich_menu != menu_id
    assert len(fetch(database_url, Trigger)) == 1  # the same postback trigger is reused


def test_refusals_change_nothing(team, database_url, line_sim, tmp_path):
    sim, base = line_sim
    env = {"LINE_API_BASE_URL": base, "LINE_DATA_API_BASE_URL": base}
    small = team("--as", "mia", "richmenu", "create", "1", "--image", str(_png(tmp_path / "s.png", (800, 600))),
                 "--all-users", env=env)
    assert small.exit_code == 1 and "800×600" in small.output
    (tmp_path / "x.png").write_bytes(b"not an image")
    junk = team("--as", "mia", "richmenu", "create", "1", "--image", str(tmp_path / "x.png"), "--all-users", env=env)
    assert junk.exit_code == 1 and "not a JPEG or PNG" in junk.output
    image = str(_png(tmp_path / "m.png"))
    bad_user = team("--as", "mia", "richmenu", "create", "1", "--image", image, "--user", "nobody", env=env)
    assert bad_user.exit_code == 1 and "LINE API: 400" in bad_user.output
    assert "was deleted again" in bad_user.output
    assert not fetch(database_url, Trigger)  # the trigger rolled back with the failed link
    # the menu created before the failed link was deleted on LINE's side too
    assert sim.rich_menus == {} and sim.rich_menu_images == {}
    assert [c["endpoint"] for c in sim.api_calls] == ["richmenu.create", "richmenu.content", "richmenu.delete"]
    assert team("--as", "sam", "richmenu", "create", "1", "--image", image, "--all-users", env=env).exit_code == 1
    assert team("--as", "mia", "richmenu", "create", "1", "--image", image, env=env).exit_code == 2
    missing = team("--as", "mia", "richmenu", "create", "9", "--image", image, "--all-users", env=env)
    assert missing.exit_code == 1 and "no campaign with ID 9" in missing.output
    assert not fetch(database_url, Trigger)


def test_lines_documented_image_limits(team, database_url, line_sim, tmp_path):
    """800–2500 px wide, at least 250 px high (and width/height ≥ 1.45), in the CLI and the simulator."""
    sim, base = line_sim
    env = {"LINE_API_BASE_URL": base, "LINE_DATA_API_BASE_URL": base}
    narrow = team("--as", "mia", "richmenu", "create", "1", "--image", str(_png(tmp_path / "a.png", (800, 250))),
                  "--all-users", env=env)
    assert narrow.exit_code == 0, narrow.output
    assert list(sim.rich_menus.values())[0]["size"] == {"width": 800, "height": 250}
    for size in ((799, 300), (1200, 249), (2501, 900)):
        refused = team("--as", "mia", "richmenu", "create", "1", "--image",
                       str(_png(tmp_path / f"{size[0]}.png", size)), "--all-users", env=env)
        assert refused.exit_code == 1 and f"{size[0]}×{size[1]}" in refused.output
    assert len(sim.rich_menus) == 1

