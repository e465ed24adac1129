"""Static forms of the case pages: search, comment, attachment upload."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from app.services.cases.search import CaseFilters


class SearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search changes nothing
        locales = ("fr_FR", "fr")

    q = StringField("Référence, client, e-mail ou facture", validators=[Optional(), Length(max=100)])
    status = SelectField("Statut", choices=[], validate_choice=False)
    process_key = SelectField("Processus", choices=[], validate_choice=False)
    channel = SelectField("Canal", choices=[], validate_choice=False)
    origin = SelectField("Origine", choices=[], validate_choice=False)
    received_from = DateField("Reçu à partir du", validators=[Optional()],
                              render_kw={"aria-describedby": "date-hint"})
    received_to = DateField("Reçu jusqu'au", validators=[Optional()])
    open_only = BooleanField("Dossiers ouverts seulement")

    def filters(self) -> CaseFilters:
        return CaseFilters(q=self.q.data or None, status=self.status.data or None,
                           process=self.process_key.data or None, channel=self.channel.data or None,
                           origin=self.origin.data or None,
                           received_from=self.received_from.data, received_to=self.received_to.data,
                           open_only=bool(self.open_only.data))


class CommentForm(FlaskForm):
    text = TextAreaField("Commentaire interne", validators=[
        DataRequired(message="Le commentaire est vide."), Length(max=5000, message="5000 caractères au maximum.")],
        render_kw={"rows": 3, "maxlength": 5000})


class AttachmentForm(FlaskForm):
    file = FileField("Fichier")
