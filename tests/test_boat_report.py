"""Panels with pictures: the optional ``images`` field, checked and rendered."""

import pytest

from alignlab.organisms.boat import Track, png_base64, visits_png
from alignlab.report.panels import PANEL_SECTIONS, PanelError, check_panel, panel_html

PNG = png_base64(visits_png(Track(), {(1, 2): 3}, "race"))


def panel(images):
    return {"title": "The boat race", "finding": "it bounces", "images": images}


def test_a_panel_shows_its_pictures_after_the_plots_with_escaped_captions():
    check_panel(panel([{"title": "none <seed 0>", "png_base64": PNG}]), "boat.race")
    html = panel_html(panel([{"title": "none <seed 0>", "png_base64": PNG}]), "boat-race")
    assert f'src="data:image/png;base64,{PNG}"' in html
    assert "<figcaption>none &lt;seed 0&gt;</figcaption>" in html
    assert "<figure>" not in panel_html(panel([]), "boat-race")
    assert PANEL_SECTIONS["boat"] == "The boat race"


@pytest.mark.parametrize(
    ("images", "field"),
    [
        ("a picture", "boat.race.images"),
        ([{"png_base64": PNG}], "boat.race.images[0].title"),
        ([{"title": "t", "png_base64": "not base64!"}], "boat.race.images[0].png_base64"),
        ([{"title": "t", "png_base64": "aGVsbG8="}], "boat.race.images[0].png_base64"),  # "hello"
    ],
)
def test_a_picture_that_is_not_a_titled_png_is_refused_by_field(images, field):
    with pytest.raises(PanelError) as raised:
        check_panel(panel(images), "boat.race")
    assert str(raised.value).startswith(f"{field}: ")
