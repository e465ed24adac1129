"""Static forms of the sign-in page."""

from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    username = StringField("Identifiant", validators=[DataRequired(message="Identifiant obligatoire."),
                                                      Length(max=80)])
    password = PasswordField("Mot de passe", validators=[DataRequired(message="Mot de passe obligatoire.")])


class AbsenceForm(FlaskForm):
    delegate = SelectField("Qui reprend vos tâches en cours ?", validate_choice=True,
                           choices=[SelectChoice("", "Mon groupe (les tâches y retournent)")])
