"""OTP delivery channels (EMAIL, SMS, VOICE)."""
