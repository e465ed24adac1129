"""Static parts of the public forms: the honeypot and the tracking page's addition form."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import StringField, TextAreaField

MAX_MESSAGE = 5000


class HoneypotForm(FlaskForm):
    """Base of the public forms: `website` is hidden from people (CSS and aria-hidden), bots fill it in."""

    website = StringField("Site web (laisser vide)", render_kw={"autocomplete": "off", "tabindex": "-1"})

    def is_spam(self) -> bool:
        return bool((self.website.data or "").strip())


class IntakeFileForm(HoneypotForm):
    """Base of the public intake form (the BPMN fields are added to it): an optional file with the complaint."""

    attachment = FileField("Document à joindre (facultatif : facture, photo… PDF, image ou bureautique, 5 Mo)")


class AddInformationForm(HoneypotForm):
    text = TextAreaField("Votre message", render_kw={"rows": 5, "maxlength": MAX_MESSAGE})
    attachment = FileField("Pièce jointe (facultative)")


class LostLinkForm(HoneypotForm):
    reference = StringField("Référence du dossier", render_kw={"required": True, "maxlength": 40,
                                                                "autocomplete": "off"})
    email = StringField("Votre adresse e-mail", render_kw={"required": True, "maxlength": 254, "type": "email",
                                                            "autocomplete": "email"})


class ContestForm(HoneypotForm):
    contest_text = TextAreaField("Ce que vous contestez dans notre réponse",
                                 render_kw={"rows": 5, "maxlength": MAX_MESSAGE, "required": True,
                                            "aria-required": "true"})
    contest_file = FileField("Document à l'appui (facultatif)")
